"""What the inventory handlers need from the outside world, as narrow protocols (adapters implement them)."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from inventory.domain.model import Line, Reservation, StockLevel, Taken


class StockRepository(Protocol):
    """Stock counts. Every method is one atomic, conditional change: no count ever goes below zero."""

    async def take(self, lines: tuple[Line, ...]) -> Taken:
        """available -> reserved for every line, or for none (then ``short_skus`` names the short ones)."""
        ...

    async def settle(self, lines: tuple[Line, ...]) -> None:
        """reserved -> sold (payment captured)."""
        ...

    async def give_back(self, lines: tuple[Line, ...]) -> None:
        """reserved -> available (compensation, expiry)."""
        ...

    async def sell_from_available(self, lines: tuple[Line, ...]) -> bool:
        """available -> sold for every line or none (a capture that arrived after its reservation expired)."""
        ...

    async def set_available(self, sku: str, available: int) -> StockLevel: ...

    async def get(self, sku: str) -> StockLevel | None: ...


class ReservationRepository(Protocol):
    async def get(self, payment_id: str) -> Reservation | None:
        """The payment's reservation, locked for this unit of work where the database can lock rows."""
        ...

    def add(self, reservation: Reservation) -> None: ...

    async def expired(self, now: datetime, limit: int) -> list[str]:
        """Payment ids of held reservations whose time is up, oldest first."""
        ...


class InventoryUnitOfWork(Protocol):
    """One transaction: stock and reservation changes, the events they recorded, the inbox mark."""

    @property
    def stock(self) -> StockRepository: ...

    @property
    def reservations(self) -> ReservationRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...
