"""Deleting sent outbox rows after a retention window, in small batches that never lock the table for long."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.outbox import metrics
from shared.outbox.schema import RowStatus, outbox_messages
from shared.persistence.engine import write_turn
from shared.persistence.metadata import utcnow

_c = outbox_messages.c


async def sweep_sent(
    engine: AsyncEngine, *, older_than: timedelta, batch_size: int = 500, max_batches: int = 100
) -> int:
    """Delete rows sent more than ``older_than`` ago, ``batch_size`` per transaction; return how many."""
    cutoff = utcnow() - older_than
    total = 0
    for _ in range(max_batches):
        oldest = (
            select(_c.id)
            .where(_c.status == RowStatus.SENT.value, _c.sent_at < cutoff)
            .order_by(_c.id)
            .limit(batch_size)
        )
        async with write_turn(engine), engine.begin() as connection:
            deleted = (await connection.execute(delete(outbox_messages).where(_c.id.in_(oldest)))).rowcount
        total += deleted
        if deleted < batch_size:
            break
    metrics.SWEPT.inc(total)
    return total
