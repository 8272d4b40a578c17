"""Fraud's unit of work: the assessment, its event (outbox) and the inbox mark, in one transaction (the shared
:class:`~shared.persistence.unit_of_work.SqlUnitOfWork` does the outbox and inbox)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fraud.adapters.metrics import ASSESSMENTS
from fraud.adapters.repositories import SqlAssessmentRepository
from shared.persistence.unit_of_work import SqlUnitOfWork


class SqlFraudUnitOfWork(SqlUnitOfWork):
    assessments: SqlAssessmentRepository
    # Every fraud process runs its own relay, woken in-process at commit; a NOTIFY would only wake the relays of
    # other fraud instances for rows their own relay takes (an empty batch each). Polling covers a dead relay.
    notify_relays = False

    def __init__(self, engine: AsyncEngine, *, correlation_id: str | None = None) -> None:
        super().__init__(engine, producer="fraud", correlation_id=correlation_id)

    def start_repositories(self, connection: AsyncConnection) -> None:
        self.assessments = SqlAssessmentRepository(connection)

    async def flush_state(self) -> None:
        await self.assessments.flush()

    async def commit(self) -> None:
        decisions = [a.decision.value for a in self.assessments.seen.values() for _ in a.events]
        await super().commit()
        for decision in decisions:
            ASSESSMENTS.labels(decision).inc()
