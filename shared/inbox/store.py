"""Marking a message handled, in the handler's own transaction, and sweeping old marks."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.inbox import metrics
from shared.inbox.schema import inbox_messages
from shared.persistence.driver import fetch_rows, timestamp
from shared.persistence.engine import write_turn
from shared.persistence.metadata import utcnow

DEFAULT_RETENTION = timedelta(days=7)


# On the driver (shared.persistence.driver): every handled message runs it. RETURNING tells a first mark from a
# duplicate; on PostgreSQL a concurrent duplicate waits on the key for the first transaction, then does nothing.
_MARK = (
    "INSERT INTO inbox_messages (handler, message_id, message_type, handled_at) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (handler, message_id) DO NOTHING RETURNING 1"
)


async def mark_handled(
    connection: AsyncConnection, *, handler: str, message_id: str, message_type: str | None = None
) -> bool:
    """Record that ``handler`` handles ``message_id``; False when it already had (a duplicate delivery).

    Runs inside the handler's transaction, so the mark commits or rolls back with the effects. On PostgreSQL a
    concurrent duplicate waits here for the first transaction and then sees its mark: never both run.
    """
    at = timestamp(connection.dialect.name, utcnow())
    first_time = bool(await fetch_rows(connection, _MARK, handler, message_id, message_type, at))
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
