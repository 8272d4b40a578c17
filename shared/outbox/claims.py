"""Which pending rows a relay may publish now, and recording what happened to them.

Ordering rule: a row is published only when every earlier row of its aggregate that is still pending (or failed,
when failures hold their aggregate) is in the same batch, ahead of it. On PostgreSQL the batch is locked with
``FOR UPDATE SKIP LOCKED`` so concurrent relays take disjoint batches; the rule then stops relay B from publishing
row 3 of an aggregate while relay A still holds its row 2. On SQLite a lease admits one relay at a time.

A claim is one statement (one round trip): the batch, and per aggregate the first earlier unpublished row
outside it. Marking a batch sent is one statement too, whatever its size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Row,
    Select,
    and_,
    any_,
    bindparam,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.outbox.schema import RowStatus, outbox_messages, outbox_relay_lease
from shared.persistence.metadata import utcnow

_c = outbox_messages.c

_ROW_COLUMNS = (
    _c.id,
    _c.message_id,
    _c.kind,
    _c.message_type,
    _c.aggregate_id,
    _c.exchange,
    _c.routing_key,
    _c.producer,
    _c.correlation_id,
    _c.causation_id,
    _c.traceparent,
    _c.headers,
    _c.payload,
    _c.created_at,
    _c.attempts,
)


def _claim(*, lock: bool, hold_on_failure: bool) -> Select[Any]:
    """The oldest pending rows (locked when ``lock``), each with its aggregate's first blocking row outside them."""
    batch_query = select(*_ROW_COLUMNS).where(_c.status == RowStatus.PENDING.value).order_by(_c.id)
    batch_query = batch_query.limit(bindparam("limit"))
    if lock:
        batch_query = batch_query.with_for_update(skip_locked=True)
    batch = batch_query.cte("batch")
    earlier = outbox_messages.alias("earlier")
    blocking = [RowStatus.PENDING.value] + ([RowStatus.FAILED.value] if hold_on_failure else [])
    # Every unpublished row of the batch's aggregates up to its last row, locked by anyone or not, that is not
    # in the batch: the first one per aggregate blocks that aggregate's rows after it.
    blockers = (
        select(earlier.c.aggregate_id, func.min(earlier.c.id).label("first_blocker"))
        .where(
            earlier.c.status.in_(blocking),
            earlier.c.aggregate_id.in_(select(batch.c.aggregate_id)),
            earlier.c.id <= select(func.max(batch.c.id)).scalar_subquery(),
            earlier.c.id.not_in(select(batch.c.id)),
        )
        .group_by(earlier.c.aggregate_id)
        .cte("blockers")
    )
    return (
        select(batch, blockers.c.first_blocker)
        .select_from(batch.outerjoin(blockers, blockers.c.aggregate_id == batch.c.aggregate_id))
        .order_by(batch.c.id)
    )


# Built once: only the limit changes, so SQLAlchemy's compiled cache (and asyncpg's prepared statements) serve
# every claim.
_CLAIMS = {
    (lock, hold): _claim(lock=lock, hold_on_failure=hold) for lock in (False, True) for hold in (False, True)
}


async def fetch_batch(
    connection: AsyncConnection, *, limit: int, lock: bool, hold_on_failure: bool
) -> list[Mapping[str, Any]]:
    """The oldest pending rows this relay may publish now, in id order (locked when ``lock``)."""
    result = await connection.execute(_CLAIMS[lock, hold_on_failure], {"limit": limit})
    return [
        row._mapping
        for row in result
        if row.aggregate_id is None or row.first_blocker is None or row.id < row.first_blocker
    ]


def _ids_in(ids: Sequence[int], dialect: str) -> ColumnElement[bool]:
    # PostgreSQL: one array parameter, so the statement text (and its prepared statement) is the same for every
    # batch size; an expanded IN list would prepare a new statement per size.
    if dialect == "postgresql":
        return _c.id == any_(bindparam("ids", list(ids), type_=ARRAY(BigInteger)))
    return _c.id.in_(ids)


async def mark_sent(connection: AsyncConnection, ids: Sequence[int], *, at: datetime) -> None:
    """Mark confirmed rows sent (one statement for the whole batch)."""
    if ids:
        await connection.execute(
            update(outbox_messages)
            .where(_ids_in(ids, connection.dialect.name))
            .values(status=RowStatus.SENT.value, sent_at=at, attempts=_c.attempts + 1)
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
