"""The SQL unit of work: payments, their recorded events (outbox) and the inbox mark in one transaction."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payment.adapters.repository import SqlPaymentRepository
from payment.service_layer.ports import IdempotencyKeyTaken


class SqlPaymentUnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        self.payments = SqlPaymentRepository(self._session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._session is not None
        await self._session.rollback()
        await self._session.close()

    async def commit(self) -> None:
        assert self._session is not None
        try:
            written = await self.payments.flush()
            await self._session.commit()
        except IntegrityError as exc:
            new = [p for p, loaded in self.payments.seen.values() if loaded is None]
            if new and "idempotency_key" in str(exc.orig):
                raise IdempotencyKeyTaken(new[0].idempotency_key) from exc
            raise
        for payment in written:
            payment.events.clear()
