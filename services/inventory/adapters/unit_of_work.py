"""The SQL unit of work: one session, one transaction, the events recorded by what it touched."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inventory.adapters.repositories import SqlReservationRepository, SqlStockRepository
from shared.contracts.base import Event


class SqlInventoryUnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self.committed_events: list[Event] = []

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.stock = SqlStockRepository(self.session)
        self.reservations = SqlReservationRepository(self.session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.session.rollback()  # a no-op after commit
        await self.session.close()

    async def commit(self) -> None:
        events = await self.reservations.flush()
        await self.session.commit()
        self.committed_events.extend(events)
