"""The SQL unit of work: payments, their recorded events (outbox rows) and the inbox mark in one transaction.

Built on the platform's :class:`~shared.persistence.unit_of_work.SqlUnitOfWork`; payment adds its repository,
writes payments with its own version-checked statements, and maps a duplicate idempotency key to
:class:`IdempotencyKeyTaken`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payment.adapters.repository import SqlPaymentRepository
from payment.domain.model import Payment
from payment.service_layer.ports import IdempotencyKeyTaken
from shared.persistence.unit_of_work import Aggregate, SqlUnitOfWork


class SqlPaymentUnitOfWork(SqlUnitOfWork):
    payments: SqlPaymentRepository
    # Every payment process runs its own relay, woken in-process at commit; a NOTIFY would only wake the relays of
    # other payment instances for rows their own relay takes (an empty batch each). Polling covers a dead relay.
    notify_relays = False

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, producer="payment")

    def start_repositories(self, connection: AsyncConnection) -> None:
        self.payments = SqlPaymentRepository(connection)

    def tracked_aggregates(self) -> Iterable[Aggregate]:
        return [payment for payment, _ in self.payments.seen.values()]

    async def flush_state(self) -> None:
        await self.payments.flush()

    async def commit(self) -> None:
        if self.message is None and self.correlation_id is None and len(self.payments.seen) == 1:
            # Work not caused by a message (a checkout, a review, the sweeper) starts or continues the
            # payment's conversation: its correlation id is the payment id, end to end.
            self.correlation_id = next(iter(self.payments.seen))
        try:
            await super().commit()
        except IntegrityError as exc:
            new: list[Payment] = [p for p, loaded in self.payments.seen.values() if loaded is None]
            if new and "idempotency_key" in str(exc.orig):
                raise IdempotencyKeyTaken(new[0].idempotency_key) from exc
            raise
