"""In-memory fakes of inventory's ports, so handlers run with no database and no broker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

import pytest

from inventory.domain.model import Line, Reservation, StockLevel, Taken
from inventory.service_layer.handlers import ReservationPolicy
from shared.contracts.base import Event


class FakeStock:
    def __init__(self) -> None:
        self.levels: dict[str, StockLevel] = {}

    def _move(self, sku: str, available: int = 0, reserved: int = 0, sold: int = 0) -> None:
        level = self.levels[sku]
        new = StockLevel(sku, level.available + available, level.reserved + reserved, level.sold + sold)
        assert min(new.available, new.reserved, new.sold) >= 0, new
        self.levels[sku] = new

    async def take(self, lines: tuple[Line, ...]) -> Taken:
        short = tuple(
            line.sku
            for line in lines
            if line.sku not in self.levels or self.levels[line.sku].available < line.quantity
        )
        if short:
            return Taken({}, short)
        for line in lines:
            self._move(line.sku, available=-line.quantity, reserved=line.quantity)
        return Taken({line.sku: self.levels[line.sku].available for line in lines})

    async def settle(self, lines: tuple[Line, ...]) -> None:
        for line in lines:
            self._move(line.sku, reserved=-line.quantity, sold=line.quantity)

    async def give_back(self, lines: tuple[Line, ...]) -> None:
        for line in lines:
            self._move(line.sku, available=line.quantity, reserved=-line.quantity)

    async def sell_from_available(self, lines: tuple[Line, ...]) -> bool:
        if any(self.levels[line.sku].available < line.quantity for line in lines):
            return False
        for line in lines:
            self._move(line.sku, available=-line.quantity, sold=line.quantity)
        return True

    async def set_available(self, sku: str, available: int) -> StockLevel:
        level = self.levels.get(sku, StockLevel(sku, 0, 0, 0))
        self.levels[sku] = StockLevel(sku, available, level.reserved, level.sold)
        return self.levels[sku]

    async def get(self, sku: str) -> StockLevel | None:
        return self.levels.get(sku)


class FakeReservations:
    def __init__(self) -> None:
        self.rows: dict[str, Reservation] = {}
        self.seen: list[Reservation] = []

    async def get(self, payment_id: str) -> Reservation | None:
        reservation = self.rows.get(payment_id)
        if reservation is not None:
            self.seen.append(reservation)
        return reservation

    def add(self, reservation: Reservation) -> None:
        self.rows[reservation.payment_id] = reservation
        self.seen.append(reservation)

    async def expired(self, now: datetime, limit: int) -> list[str]:
        due = sorted((r for r in self.rows.values() if r.is_expired(now)), key=lambda r: r.created_at)
        return [r.payment_id for r in due[:limit]]


class FakeUnitOfWork:
    """Commits by keeping the events the touched reservations recorded (what the outbox would get)."""

    def __init__(self) -> None:
        self.stock = FakeStock()
        self.reservations = FakeReservations()
        self.published: list[Event] = []
        self.commits = 0

    async def __aenter__(self) -> Self:
        self.reservations.seen = []
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.reservations.seen = []

    async def commit(self) -> None:
        for reservation in self.reservations.seen:
            self.published.extend(reservation.events)
            reservation.events.clear()
        self.commits += 1

    def types(self) -> list[str]:
        return [event.message_type for event in self.published]


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def policy(clock: Callable[[], datetime]) -> ReservationPolicy:
    return ReservationPolicy(ttl=timedelta(minutes=15), stock_low_threshold=2, clock=clock)
