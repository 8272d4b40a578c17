"""Which pending rows a relay may publish now, and recording what happened to them.

Ordering rule: a row is published only when every earlier row of its aggregate that is still pending (or failed,
when failures hold their aggregate) is in the same batch, ahead of it. On PostgreSQL the batch is locked with
``FOR UPDATE SKIP LOCKED`` so concurrent relays take disjoint batches; the rule then stops relay B from publishing
row 3 of an aggregate while relay A still holds its row 2. On SQLite a lease admits one relay at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, and_, case, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.outbox.schema import RowStatus, outbox_messages, outbox_relay_lease
from shared.persistence.metadata import utcnow

_ROW_COLUMNS = (
    outbox_messages.c.id,
    outbox_messages.c.message_id,
    outbox_messages.c.kind,
    outbox_messages.c.message_type,
    outbox_messages.c.aggregate_id,
    outbox_messages.c.exchange,
    outbox_messages.c.routing_key,
    outbox_messages.c.producer,
    outbox_messages.c.correlation_id,
    outbox_messages.c.causation_id,
    outbox_messages.c.traceparent,
    outbox_messages.c.headers,
    outbox_messages.c.payload,
    outbox_messages.c.created_at,
    outbox_messages.c.attempts,
)


async def fetch_batch(
    connection: AsyncConnection, *, limit: int, lock: bool, hold_on_failure: bool
) -> list[Mapping[str, Any]]:
    """The oldest pending rows this relay may publish now, in id order (locked when ``lock``)."""
    query = (
        select(*_ROW_COLUMNS)
        .where(outbox_messages.c.status == RowStatus.PENDING.value)
        .order_by(outbox_messages.c.id)
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True)
    rows = cast(list[Mapping[str, Any]], [row._mapping for row in (await connection.execute(query)).all()])
    if not rows:
        return rows
    return await _in_order(connection, rows, hold_on_failure=hold_on_failure)


async def _in_order(
    connection: AsyncConnection, rows: list[Mapping[str, Any]], *, hold_on_failure: bool
) -> list[Mapping[str, Any]]:
    """Drop each aggregate's rows from the first one that has an unpublished predecessor outside the batch."""
    aggregates = {row["aggregate_id"] for row in rows if row["aggregate_id"] is not None}
    if not aggregates:
        return rows
    blocking = [RowStatus.PENDING.value] + ([RowStatus.FAILED.value] if hold_on_failure else [])
    ours = {row["id"] for row in rows}
    # Every unpublished row of these aggregates up to the last one in the batch, locked by anyone or not.
    query = (
        select(outbox_messages.c.id, outbox_messages.c.aggregate_id)
        .where(
            outbox_messages.c.aggregate_id.in_(aggregates),
            outbox_messages.c.status.in_(blocking),
            outbox_messages.c.id <= max(ours),
        )
        .order_by(outbox_messages.c.id)
    )
    blocked: set[str] = set()
    allowed: set[int] = set()
    for row_id, aggregate_id in (await connection.execute(query)).all():
        if aggregate_id in blocked:
            continue
        if row_id in ours:
            allowed.add(row_id)
        else:
            blocked.add(aggregate_id)
    return [row for row in rows if row["aggregate_id"] is None or row["id"] in allowed]


async def mark_sent(connection: AsyncConnection, ids: Sequence[int], *, at: datetime) -> None:
    """Mark confirmed rows sent (one statement for the whole batch)."""
    if ids:
        await connection.execute(
            update(outbox_messages)
            .where(outbox_messages.c.id.in_(ids))
            .values(status=RowStatus.SENT.value, sent_at=at, attempts=outbox_messages.c.attempts + 1)
        )


async def mark_failed(connection: AsyncConnection, failures: Mapping[int, str]) -> None:
    """Mark rows that can never be published failed, with the reason an operator will read."""
    for row_id, reason in failures.items():
        await connection.execute(
            update(outbox_messages)
            .where(outbox_messages.c.id == row_id)
            .values(
                status=RowStatus.FAILED.value,
                last_error=reason[:2000],
                attempts=outbox_messages.c.attempts + 1,
            )
        )


async def count_refusal(
    connection: AsyncConnection, refusals: Mapping[int, str], *, max_attempts: int
) -> list[Row[Any]]:
    """Count a refused attempt per row; rows reaching ``max_attempts`` become failed. Returns those rows."""
    failed: list[Row[Any]] = []
    for row_id, reason in refusals.items():
        reached = outbox_messages.c.attempts + 1 >= max_attempts
        result = await connection.execute(
            update(outbox_messages)
            .where(outbox_messages.c.id == row_id)
            .values(
                attempts=outbox_messages.c.attempts + 1,
                last_error=reason[:2000],
                status=case((reached, RowStatus.FAILED.value), else_=outbox_messages.c.status),
            )
            .returning(outbox_messages.c.id, outbox_messages.c.status)
        )
        row = result.first()
        if row is not None and row.status == RowStatus.FAILED.value:
            failed.append(row)
    return failed


async def acquire_lease(engine: AsyncEngine, *, name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the relay lease ``name`` for ``ttl``; False while another holder's lease is unexpired."""
    now = utcnow()
    lease = outbox_relay_lease.c
    async with engine.begin() as connection:
        taken = await connection.execute(
            update(outbox_relay_lease)
            .where(lease.name == name, or_(lease.holder == holder, lease.expires_at < now))
            .values(holder=holder, expires_at=now + ttl)
        )
        if taken.rowcount:
            return True
        inserted = await connection.execute(
            sqlite_insert(outbox_relay_lease)
            .values(name=name, holder=holder, expires_at=now + ttl)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        return bool(inserted.rowcount)


async def release_lease(engine: AsyncEngine, *, name: str, holder: str) -> None:
    """Give the lease up at once, so a waiting relay takes over without waiting for it to expire."""
    lease = outbox_relay_lease.c
    async with engine.begin() as connection:
        await connection.execute(
            update(outbox_relay_lease)
            .where(and_(lease.name == name, lease.holder == holder))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
