"""Inventory's unit of work: stock and reservation changes, their events (outbox) and the inbox mark, in one
transaction (the shared :class:`~shared.persistence.unit_of_work.SqlUnitOfWork` does the outbox and inbox)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inventory.adapters.metrics import EVENTS
from inventory.adapters.repositories import SqlReservationRepository, SqlStockRepository
from shared.persistence.unit_of_work import SqlUnitOfWork


class SqlInventoryUnitOfWork(SqlUnitOfWork):
    stock: SqlStockRepository
    # Every inventory process runs its own relay, woken in-process at commit; a NOTIFY would only wake the relays of
    # other inventory instances for rows their own relay takes (an empty batch each). Polling covers a dead relay.
    notify_relays = False
    reservations: SqlReservationRepository

    def __init__(self, engine: AsyncEngine, *, correlation_id: str | None = None) -> None:
        super().__init__(engine, producer="inventory", correlation_id=correlation_id)

    def start_repositories(self, connection: AsyncConnection) -> None:
        self.stock = SqlStockRepository(connection)
        self.reservations = SqlReservationRepository(connection)

    async def flush_state(self) -> None:
        await self.reservations.flush()

    async def commit(self) -> None:
        recorded = [event.message_type for r in self.reservations.seen.values() for event in r.events]
        await super().commit()
        for message_type in recorded:
            EVENTS.labels(message_type).inc()
