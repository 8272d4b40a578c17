"""What the service layer needs from the outside, as narrow Protocols the adapters (and test fakes) fulfil."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from payment.domain.model import ChargeResult, Payment, VoidResult


class GatewayUnavailable(Exception):
    """The gateway gave no usable answer (5xx, timeout, refused, breaker open): the charge may be retried."""


class ConcurrencyConflict(Exception):
    """Another transaction changed the payment since it was read; the work is retried from the start."""


class IdempotencyKeyTaken(Exception):
    """Another request stored a payment under the same idempotency key at the same moment."""


class CardGateway(Protocol):
    async def charge(
        self, *, amount: int, currency: str, token: str, idempotency_key: str, reference: str
    ) -> ChargeResult:
        """Charge once per ``idempotency_key``; raise :class:`GatewayUnavailable` when unsure."""
        ...

    async def void(self, *, reference: str, idempotency_key: str) -> VoidResult:
        """Give back every charge made with ``reference`` and refuse any still in flight (a technical
        cancel); raise :class:`GatewayUnavailable` when unsure."""
        ...


class PaymentRepository(Protocol):
    async def add(self, payment: Payment) -> None: ...

    async def get(self, payment_id: str) -> Payment | None:
        """The payment, locked for this unit of work where the database can lock rows."""
        ...

    def resume(self, payment: Payment) -> Payment:
        """Carry on with ``payment`` as this worker committed it in an earlier unit of work, without reading it
        again. Its write is version-checked: a change committed since raises :class:`ConcurrencyConflict`."""
        ...

    async def read(self, payment_id: str) -> Payment | None:
        """The payment for reading only (no lock); changes to it are not saved."""
        ...

    async def by_idempotency_key(self, key: str) -> Payment | None: ...

    async def due_for_charge(self, now: datetime, limit: int) -> Sequence[str]:
        """Ids of payments whose next charge attempt (or deadline) is due."""
        ...

    async def due_for_void(self, now: datetime, limit: int) -> Sequence[str]:
        """Ids of failed payments whose void at the gateway is due."""
        ...


class PaymentUnitOfWork(Protocol):
    @property
    def payments(self) -> PaymentRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None:
        """State, the payments' recorded events (outbox) and the inbox mark, in one transaction."""
        ...


UnitOfWorkFactory = Callable[[], PaymentUnitOfWork]
