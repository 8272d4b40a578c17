"""Marking a message handled, in the handler's own transaction, and sweeping old marks."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.inbox import metrics
from shared.inbox.schema import inbox_messages
from shared.persistence.engine import write_turn
from shared.persistence.metadata import utcnow

DEFAULT_RETENTION = timedelta(days=7)


# Built once per dialect: only the parameters change, so SQLAlchemy's compiled cache serves every mark.
_MARK = {
    "postgresql": pg_insert(inbox_messages).on_conflict_do_nothing(index_elements=["handler", "message_id"]),
    "sqlite": sqlite_insert(inbox_messages).on_conflict_do_nothing(index_elements=["handler", "message_id"]),
}


async def mark_handled(
    connection: AsyncConnection, *, handler: str, message_id: str, message_type: str | None = None
) -> bool:
    """Record that ``handler`` handles ``message_id``; False when it already had (a duplicate delivery).

    Runs inside the handler's transaction, so the mark commits or rolls back with the effects. On PostgreSQL a
    concurrent duplicate waits here for the first transaction and then sees its mark: never both run.
    """
    result = await connection.execute(
        _MARK[connection.dialect.name],
        {"handler": handler, "message_id": message_id, "message_type": message_type, "handled_at": utcnow()},
    )
    first_time = bool(result.rowcount)
    if not first_time:
        metrics.DUPLICATES_ABSORBED.labels(handler=handler).inc()
    return first_time


async def was_handled(connection: AsyncConnection, *, handler: str, message_id: str) -> bool:
    """True when ``handler`` has a committed mark for ``message_id``."""
    query = select(inbox_messages.c.message_id).where(
        inbox_messages.c.handler == handler, inbox_messages.c.message_id == message_id
    )
    return (await connection.execute(query)).first() is not None


async def sweep_inbox(
    engine: AsyncEngine,
    *,
    older_than: timedelta = DEFAULT_RETENTION,
    batch_size: int = 500,
    max_batches: int = 100,
) -> int:
    """Delete marks older than ``older_than`` in short batches (each its own transaction); return how many.

    A duplicate arriving after its mark was swept runs again, so the window must exceed the longest redelivery
    delay (retry tiers, DLQ replays).
    """
    cutoff = utcnow() - older_than
    total = 0
    for _ in range(max_batches):
        oldest = (
            select(inbox_messages.c.handler, inbox_messages.c.message_id)
            .where(inbox_messages.c.handled_at < cutoff)
            .limit(batch_size)
        )
        statement = delete(inbox_messages).where(
            tuple_(inbox_messages.c.handler, inbox_messages.c.message_id).in_(oldest)
        )
        async with write_turn(engine), engine.begin() as connection:
            deleted = (await connection.execute(statement)).rowcount
        total += deleted
        if deleted < batch_size:
            break
    metrics.SWEPT.inc(total)
    return total
