"""Operator functions over a service's outbox: what is pending, what failed, retry or discard a failed row.

The operator CLI calls these with the service's engine; the relay uses :func:`outbox_stats` for its gauges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.outbox.schema import RowStatus, outbox_messages
from shared.persistence.engine import read_transaction
from shared.persistence.metadata import utcnow

_c = outbox_messages.c


@dataclass(frozen=True)
class OutboxStats:
    """Counts per status and the age of the oldest pending row (0 when nothing is pending)."""

    pending: int
    failed: int
    sent: int
    oldest_pending_age_seconds: float


@dataclass(frozen=True)
class FailedRow:
    """A row the relay gave up on, with the reason it recorded."""

    id: int
    message_id: str
    kind: str
    message_type: str
    aggregate_id: str | None
    exchange: str
    routing_key: str
    attempts: int
    last_error: str | None
    created_at: datetime


async def outbox_stats(engine: AsyncEngine, *, count_sent: bool = True) -> OutboxStats:
    """Pending, failed and sent counts, and how long the oldest pending row has waited.

    Counting sent rows reads the whole retention window (a day of traffic); the relay's gauges skip it
    (``count_sent=False``, ``sent`` is then 0) and count only what the status index finds quickly.
    """
    statuses = [RowStatus.PENDING.value, RowStatus.FAILED.value]
    if count_sent:
        statuses.append(RowStatus.SENT.value)
    async with read_transaction(engine) as connection:
        counts: dict[str, int] = dict(
            (
                await connection.execute(
                    select(_c.status, func.count()).where(_c.status.in_(statuses)).group_by(_c.status)
                )
            ).all()
        )
        oldest = (
            await connection.execute(
                select(_c.created_at).where(_c.status == RowStatus.PENDING.value).order_by(_c.id).limit(1)
            )
        ).scalar()
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return OutboxStats(
        pending=counts.get(RowStatus.PENDING.value, 0),
        failed=counts.get(RowStatus.FAILED.value, 0),
        sent=counts.get(RowStatus.SENT.value, 0),
        oldest_pending_age_seconds=max(age, 0.0),
    )


async def list_failed(engine: AsyncEngine, *, limit: int = 100) -> list[FailedRow]:
    """Failed rows, oldest first."""
    query = (
        select(
            _c.id,
            _c.message_id,
            _c.kind,
            _c.message_type,
            _c.aggregate_id,
            _c.exchange,
            _c.routing_key,
            _c.attempts,
            _c.last_error,
            _c.created_at,
        )
        .where(_c.status == RowStatus.FAILED.value)
        .order_by(_c.id)
        .limit(limit)
    )
    async with read_transaction(engine) as connection:
        rows = (await connection.execute(query)).all()
    return [FailedRow(**row._asdict()) for row in rows]


async def retry_failed(engine: AsyncEngine, row_id: int | None = None) -> int:
    """Put one failed row (or, with no id, every failed row) back to pending; return how many."""
    statement = (
        update(outbox_messages)
        .where(_c.status == RowStatus.FAILED.value)
        .values(status=RowStatus.PENDING.value, attempts=0)
    )
    if row_id is not None:
        statement = statement.where(_c.id == row_id)
    async with engine.begin() as connection:
        return (await connection.execute(statement)).rowcount


async def discard_failed(engine: AsyncEngine, row_id: int) -> bool:
    """Delete a failed row for good (it will never be published); True when there was one."""
    statement = delete(outbox_messages).where(_c.id == row_id, _c.status == RowStatus.FAILED.value)
    async with engine.begin() as connection:
        return bool((await connection.execute(statement)).rowcount)
