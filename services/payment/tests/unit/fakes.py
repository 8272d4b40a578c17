"""In-memory stand-ins for the payment service's ports: no database, no network."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from payment.domain.model import ChargeApproved, ChargeDeclined, ChargeResult, Payment, VoidResult
from payment.service_layer.ports import ConcurrencyConflict, GatewayUnavailable, IdempotencyKeyTaken
from shared.contracts.base import Event


class FakeStore:
    """What a database would hold: committed payments, published events, handled message ids."""

    def __init__(self) -> None:
        self.payments: dict[str, Payment] = {}
        self.outbox: list[Event] = []
        self.inbox: set[str] = set()


class FakeRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self.seen: dict[str, Payment] = {}
        self.added: set[str] = set()
        self.resumed: dict[str, Payment] = {}

    async def add(self, payment: Payment) -> None:
        self.seen[payment.id] = payment
        self.added.add(payment.id)

    async def get(self, payment_id: str) -> Payment | None:
        if payment_id in self.seen:
            return self.seen[payment_id]
        stored = self._store.payments.get(payment_id)
        if stored is None:
            return None
        payment = copy.deepcopy(stored)
        self.seen[payment_id] = payment
        return payment

    def resume(self, payment: Payment) -> Payment:
        # Stands for the version check: the stored payment must still be the one this worker committed.
        self.resumed[payment.id] = copy.deepcopy(payment)
        self.seen[payment.id] = payment
        return payment

    async def read(self, payment_id: str) -> Payment | None:
        stored = self._store.payments.get(payment_id)
        return None if stored is None else copy.deepcopy(stored)

    async def by_idempotency_key(self, key: str) -> Payment | None:
        for payment in self._store.payments.values():
            if payment.idempotency_key == key:
                return copy.deepcopy(payment)
        return None

    async def due_for_charge(self, now: datetime, limit: int) -> Sequence[str]:
        return [p.id for p in self._store.payments.values() if p.charge_due(now)][:limit]

    async def due_for_void(self, now: datetime, limit: int) -> Sequence[str]:
        return [p.id for p in self._store.payments.values() if p.void_due(now)][:limit]


class FakeUnitOfWork:
    def __init__(self, store: FakeStore, inbox_key: str | None = None) -> None:
        self._store = store
        self._inbox_key = inbox_key
        self.payments = FakeRepository(store)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.payments.seen.clear()  # anything not committed is dropped, like a rollback
        self.payments.added.clear()
        self.payments.resumed.clear()

    async def commit(self) -> None:
        for payment_id, as_committed in self.payments.resumed.items():
            if self._store.payments.get(payment_id) != as_committed:
                raise ConcurrencyConflict(f"payment {payment_id} changed since it was read")
        for payment_id in self.payments.added:
            key = self.payments.seen[payment_id].idempotency_key
            if any(p.idempotency_key == key for p in self._store.payments.values()):
                raise IdempotencyKeyTaken(key)
        for payment in self.payments.seen.values():
            self._store.outbox.extend(payment.events)
            payment.events.clear()
            self._store.payments[payment.id] = copy.deepcopy(payment)
        self.payments.added.clear()
        self.payments.resumed.clear()
        if self._inbox_key is not None:
            self._store.inbox.add(self._inbox_key)


class FakeGateway:
    """Answers by token like the sandbox; ``down`` makes every call unavailable."""

    def __init__(self) -> None:
        self.answers: dict[str, ChargeResult] = {}
        self.calls: list[str] = []
        self.down = False
        self.voided: list[str] = []
        # The gateway charges, but the answer never comes back (the call times out after the charge).
        self.answers_lost = False

    @property
    def charged(self) -> int:
        return sum(isinstance(a, ChargeApproved) for a in self.answers.values())

    async def charge(
        self, *, amount: int, currency: str, token: str, idempotency_key: str, reference: str
    ) -> ChargeResult:
        self.calls.append(idempotency_key)
        if self.down:
            raise GatewayUnavailable("HTTP 503")
        if idempotency_key in self.voided:
            raise GatewayUnavailable("HTTP 409 reference_voided")
        if idempotency_key not in self.answers:
            self.answers[idempotency_key] = (
                ChargeApproved(f"ch_{len(self.answers)}")
                if token == "tok_visa"
                else ChargeDeclined("insufficient_funds")
            )
        if self.answers_lost:
            raise GatewayUnavailable("gateway timed out")
        return self.answers[idempotency_key]

    async def void(self, *, reference: str, idempotency_key: str) -> VoidResult:
        self.calls.append(idempotency_key)
        if self.down:
            raise GatewayUnavailable("HTTP 503")
        self.voided.append(reference)
        answer = self.answers.get(reference)
        return VoidResult((answer.charge_id,) if isinstance(answer, ChargeApproved) else ())


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
