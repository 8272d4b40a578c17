"""SQL repository of assessments and the customer lock behind exact velocity counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from fraud.adapters.tables import assessments, customers
from fraud.domain.rules import Assessment
from shared.contracts.fraud import FraudDecision
from shared.persistence.compiled import DriverStatement
from shared.persistence.repository import TrackingRepository

# Statements built once: only the parameters change, so SQLAlchemy's compiled cache serves every call.
# The reads every assessment makes run on the driver (DriverStatement, a fraction of the CPU).
_BY_PAYMENT = DriverStatement(select(assessments).where(assessments.c.payment_id == bindparam("payment_id")))
_INSERT = DriverStatement(insert(assessments))
_COUNT_BETWEEN = DriverStatement(
    select(func.count().label("count"))
    .select_from(assessments)
    .where(
        assessments.c.customer_id == bindparam("customer_id"),
        assessments.c.requested_at > bindparam("after"),
        assessments.c.requested_at < bindparam("before"),
    )
)


def _customer_upsert(insert_: Any) -> Any:
    statement = insert_(customers)
    return statement.on_conflict_do_update(
        index_elements=[customers.c.customer_id], set_={"customer_id": statement.excluded.customer_id}
    )


_LOCK_CUSTOMER = {
    "postgresql": DriverStatement(_customer_upsert(pg_insert)),
    "sqlite": DriverStatement(_customer_upsert(sqlite_insert)),
}


class SqlAssessmentRepository(TrackingRepository[Assessment]):
    def __init__(self, connection: AsyncConnection) -> None:
        super().__init__(connection)
        self._new: set[str] = set()

    async def get(self, payment_id: str) -> Assessment | None:
        if payment_id in self.seen:
            return self.seen[payment_id]
        rows = await _BY_PAYMENT.rows(self.connection, {"payment_id": payment_id})
        if not rows:
            return None
        row = rows[0]
        assessment = Assessment(
            payment_id=row["payment_id"],
            customer_id=row["customer_id"],
            requested_at=row["requested_at"],
            decision=FraudDecision(row["decision"]),
            score=row["score"],
            reasons=tuple(row["reasons"]),
        )
        return self.track(assessment)

    def add(self, assessment: Assessment) -> None:
        self._new.add(assessment.payment_id)
        self.track(assessment)

    async def lock_customer(self, customer_id: str) -> None:
        # An upsert takes the customer's row lock on PostgreSQL (held to commit); SQLite's write lock
        # already serialises every transaction.
        await _LOCK_CUSTOMER[self.connection.dialect.name].rowcount(
            self.connection, {"customer_id": customer_id}
        )

    async def count_between(self, customer_id: str, after: datetime, before: datetime) -> int:
        [row] = await _COUNT_BETWEEN.rows(
            self.connection, {"customer_id": customer_id, "after": after, "before": before}
        )
        return int(row["count"] or 0)

    async def flush(self) -> None:
        """Insert the new assessments (an assessment never changes once made)."""
        for payment_id in sorted(self._new):
            assessment = self.seen[payment_id]
            await _INSERT.rowcount(
                self.connection,
                {
                    "payment_id": assessment.payment_id,
                    "customer_id": assessment.customer_id,
                    "requested_at": assessment.requested_at,
                    "decision": assessment.decision.value,
                    "score": assessment.score,
                    "reasons": list(assessment.reasons),
                },
            )
        self._new.clear()
