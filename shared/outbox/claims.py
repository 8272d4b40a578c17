"""Which pending rows a relay may publish now, and recording what happened to them.

Ordering rule: a row is published only when every earlier row of its aggregate that is still pending (or failed,
when failures hold their aggregate) is in the same batch, ahead of it. On PostgreSQL the batch is locked with
``FOR UPDATE SKIP LOCKED`` so concurrent relays take disjoint batches; the rule then stops relay B from publishing
row 3 of an aggregate while relay A still holds its row 2. On SQLite a lease admits one relay at a time.

The relay's per-batch statements run on the database driver itself (asyncpg, aiosqlite), on a connection taken
from the engine's pool: a batch is a claim, one mark statement and the commit (on PostgreSQL three round trips:
the begin, the claim, and the mark sent with the commit), and at 500 events/s the relay runs
hundreds of small batches a second, where SQLAlchemy's per-statement machinery cost more CPU than the statements
(about 1 ms against 0.45 ms per batch on this project's 2-core machine). The claim is one statement: the batch,
and per aggregate the first earlier unpublished row outside it. Marking a batch sent is one statement whatever
its size, with the same text for every size (an array of ids), so each is prepared once per connection.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import and_, or_, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.outbox.schema import MESSAGE_COLUMNS, RowStatus, outbox_relay_lease
from shared.persistence.driver import pooled_connection, sql_for, timestamp
from shared.persistence.engine import is_sqlite, own_sqlite_connection
from shared.persistence.metadata import utcnow
from shared.persistence.sqlite_loop import LoopConnection, begin_immediate

# What a database failure during a batch looks like, through SQLAlchemy or the drivers: the relay backs off.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    SQLAlchemyError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    sqlite3.Error,
)

COLUMNS = ("id", *MESSAGE_COLUMNS, "attempts")
_PENDING, _SENT, _FAILED = (
    f"'{status.value}'" for status in (RowStatus.PENDING, RowStatus.SENT, RowStatus.FAILED)
)


def _claim_sql(*, lock: bool, hold_on_failure: bool) -> str:
    blocking = f"({_PENDING}, {_FAILED})" if hold_on_failure else f"({_PENDING})"
    return (
        f"WITH batch AS (SELECT {', '.join(COLUMNS)} FROM outbox_messages WHERE status = {_PENDING}"
        f" ORDER BY id LIMIT $1{' FOR UPDATE SKIP LOCKED' if lock else ''}),"
        # Every unpublished row of the batch's aggregates up to its last row, locked by anyone or not, that is
        # not in the batch: the first one per aggregate blocks that aggregate's rows after it.
        " blockers AS (SELECT earlier.aggregate_id, min(earlier.id) AS first_blocker FROM outbox_messages earlier"
        f" WHERE earlier.status IN {blocking} AND earlier.aggregate_id IN (SELECT aggregate_id FROM batch)"
        " AND earlier.id <= (SELECT max(id) FROM batch) AND earlier.id NOT IN (SELECT id FROM batch)"
        " GROUP BY earlier.aggregate_id)"
        " SELECT batch.*, blockers.first_blocker FROM batch"
        " LEFT JOIN blockers ON blockers.aggregate_id = batch.aggregate_id ORDER BY batch.id"
    )


_IDS = {"postgresql": "= ANY($2::bigint[])", "sqlite": "IN (SELECT value FROM json_each($2))"}
_MARK_SENT = (
    "UPDATE outbox_messages SET status = " + _SENT + ", sent_at = $1, attempts = attempts + 1 WHERE id {ids}"
)
_MARK_FAILED = (
    f"UPDATE outbox_messages SET status = {_FAILED}, last_error = $2, attempts = attempts + 1 WHERE id = $1"
)
_COUNT_REFUSAL = (
    "UPDATE outbox_messages SET attempts = attempts + 1, last_error = $2,"
    f" status = CASE WHEN attempts + 1 >= $3 THEN {_FAILED} ELSE status END WHERE id = $1 RETURNING status"
)


# PostgreSQL: the relay's transaction begins in one round trip, with asynchronous commit. Its writes are only
# marks (sent, failed, refusals): one lost in a database crash means the row is published again, which
# at-least-once delivery and the consumers' inboxes already absorb. Skipping the WAL flush saves ~110 us of
# machine time per batch on this project's 2-core machine (fdatasync: 217 against 110 us per commit, measured).
_BEGIN_RELAY_TRANSACTION = "BEGIN; SET LOCAL synchronous_commit = off"


def _literal_mark_sent(ids: Sequence[int], at: datetime) -> str:
    """The mark as literal SQL, sent with the COMMIT in one round trip: ids are ints, ``at`` our own datetime."""
    id_list = ",".join(str(int(row_id)) for row_id in ids)
    return _MARK_SENT.replace("$1", f"'{at.astimezone(UTC).isoformat()}'::timestamptz").format(
        ids=f"= ANY('{{{id_list}}}'::bigint[])"
    )


class BatchConnection:
    """One batch's statements on the driver connection of a pooled connection (see the module docstring)."""

    def __init__(self, driver: Any, dialect: str) -> None:
        self._driver = driver
        self._dialect = dialect
        self._postgres = dialect == "postgresql"
        # PostgreSQL, inside transaction(): statements sent with the COMMIT (None outside one).
        self._with_commit: list[str] | None = None

    def _sql(self, text: str) -> str:
        return sql_for(self._dialect, text)

    async def _fetch(self, text: str, *args: Any) -> list[Sequence[Any]]:
        if self._postgres:
            return list(await self._driver.fetch(text, *args))
        return list(await self._driver.execute_fetchall(self._sql(text), args))

    async def _execute(self, text: str, *args: Any) -> None:
        if self._postgres:
            await self._driver.execute(text, *args)
        else:
            await self._driver.execute(self._sql(text), args)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """A write transaction (SQLite: IMMEDIATE, so it queues for the write lock instead of failing)."""
        if self._postgres:
            await self._driver.execute(_BEGIN_RELAY_TRANSACTION)
            self._with_commit = []
            try:
                yield
            except BaseException:
                self._with_commit = None
                # A broken connection fails the rollback too: the original error is the one to report, and the
                # caller discards the connection on a database error.
                with contextlib.suppress(*DATABASE_ERRORS):
                    await self._driver.execute("ROLLBACK")
                raise
            statements, self._with_commit = "; ".join([*self._with_commit, "COMMIT"]), None
            await self._driver.execute(statements)
            return
        await begin_immediate(self._driver)
        try:
            yield
        except BaseException:
            await self._driver.execute("ROLLBACK")
            raise
        await self._driver.execute("COMMIT")

    async def fetch_batch(self, *, limit: int, lock: bool, hold_on_failure: bool) -> list[dict[str, Any]]:
        """The oldest pending rows this relay may publish now, in id order (locked when ``lock``).

        On SQLite, outside a transaction, the one statement reads one snapshot and takes no write lock.
        """
        records = await self._fetch(_CLAIMS[lock, hold_on_failure], limit)
        rows: list[dict[str, Any]] = []
        for record in records:
            row_id, aggregate_id, first_blocker = record[0], record[4], record[-1]
            if aggregate_id is not None and first_blocker is not None and row_id > first_blocker:
                continue
            row = dict(zip(COLUMNS, record, strict=False))
            if isinstance(row["headers"], str):  # SQLite; SQLAlchemy's asyncpg set-up decodes JSON itself
                row["headers"] = json.loads(row["headers"])
            if not self._postgres:  # SQLite stores UTCDateTime as naive UTC text
                row["created_at"] = datetime.fromisoformat(row["created_at"]).replace(tzinfo=UTC)
            rows.append(row)
        return rows

    def _timestamp(self, at: datetime) -> Any:
        return timestamp(self._dialect, at)

    async def mark_sent(self, ids: Sequence[int], *, at: datetime) -> None:
        """Mark confirmed rows sent (one statement for the whole batch; on PostgreSQL in a transaction, sent with
        its COMMIT)."""
        if ids and self._with_commit is not None:
            self._with_commit.append(_literal_mark_sent(ids, at))
        elif ids:
            ids_sql = _IDS["postgresql" if self._postgres else "sqlite"]
            arg: Any = list(ids) if self._postgres else json.dumps(list(ids))
            await self._execute(_MARK_SENT.format(ids=ids_sql), self._timestamp(at), arg)

    async def mark_failed(self, failures: Mapping[int, str]) -> None:
        """Mark rows that can never be published failed, with the reason an operator will read."""
        for row_id, reason in failures.items():
            await self._execute(_MARK_FAILED, row_id, reason[:2000])

    async def count_refusal(self, refusals: Mapping[int, str], *, max_attempts: int) -> list[int]:
        """Count a refused attempt per row; rows reaching ``max_attempts`` become failed. Returns their ids."""
        failed: list[int] = []
        for row_id, reason in refusals.items():
            for (status,) in await self._fetch(_COUNT_REFUSAL, row_id, reason[:2000], max_attempts):
                if status == RowStatus.FAILED.value:
                    failed.append(row_id)
        return failed


_CLAIMS = {
    (lock, hold): _claim_sql(lock=lock, hold_on_failure=hold)
    for lock in (False, True)
    for hold in (False, True)
}


@contextlib.asynccontextmanager
async def batch_connection(engine: AsyncEngine) -> AsyncIterator[BatchConnection]:
    """A pooled connection for one batch; a connection that failed is discarded, not returned to the pool."""
    async with engine.connect() as connection:
        raw = await pooled_connection(connection)
        try:
            yield BatchConnection(raw.driver_connection, engine.dialect.name)
        except DATABASE_ERRORS:
            await connection.invalidate()
            raise


class HeldConnection:
    """A relay's own connection, taken at its first batch and kept until it stops or fails.

    At a trickle every commit is a batch of one row, and checking a connection out of SQLAlchemy's pool and
    returning it (events, reset) cost about as much CPU as the batch's own statements (twice per batch on SQLite:
    the read, then the marks). PostgreSQL: a pooled connection kept checked out. SQLite: a connection of its own
    outside the pool, whose one connection serves the units of work and must not wait while the relay publishes;
    its marks still take the process's write turn. A connection that failed is discarded and the next batch
    takes a fresh one.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None  # PostgreSQL: the pooled connection kept checked out
        self._own: LoopConnection | None = None  # SQLite: the relay's own connection
        self._batch: BatchConnection | None = None

    async def _open(self) -> BatchConnection:
        if is_sqlite(self._engine):
            self._own = await own_sqlite_connection(self._engine)
            return BatchConnection(self._own, "sqlite")
        connection = await self._engine.connect()
        try:
            raw = await pooled_connection(connection)
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        return BatchConnection(raw.driver_connection, self._engine.dialect.name)

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[BatchConnection]:
        if self._batch is None:
            self._batch = await self._open()
        try:
            yield self._batch
        except DATABASE_ERRORS:
            await self.close(failed=True)
            raise

    async def close(self, *, failed: bool = False) -> None:
        connection, own = self._connection, self._own
        self._connection, self._own, self._batch = None, None, None
        with contextlib.suppress(Exception):
            if connection is not None:
                await (connection.invalidate() if failed else connection.close())
            if own is not None:
                await own.close()


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
