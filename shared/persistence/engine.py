"""Building the database engine of a service: SQLite (embedded default, one file per service) or PostgreSQL.

Called from a service's entrypoint at start-up, never at import. The same code runs on both databases; the
engine hides the differences that matter for correctness (SQLite write locking, PostgreSQL pool sizing).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState
from sqlalchemy.util.concurrency import await_

from shared.persistence import sqlite_loop

# A writer waiting for the SQLite write lock gives up after this long (the lock is held for milliseconds).
SQLITE_BUSY_TIMEOUT_MS = int(sqlite_loop.WRITE_LOCK_TIMEOUT * 1000)
# Execution option read by the SQLite "begin" hook: this connection only reads, so it begins DEFERRED.
_SQLITE_READ_ONLY = "warren_sqlite_read_only"
# Reads a SQLite URL as SQLAlchemy's own dialect does (file name, URI parameters).
_SQLITE_DIALECT = SQLiteDialect_aiosqlite()


def is_sqlite(engine_or_url: AsyncEngine | str) -> bool:
    """True when the engine (or URL) points at SQLite."""
    url = engine_or_url.url if isinstance(engine_or_url, AsyncEngine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 5,
    pool_timeout: float = 30.0,
    pre_ping: bool = False,
    echo: bool = False,
    **kwargs: Any,
) -> AsyncEngine:
    """An async engine for ``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://...``, tuned for services."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_pre_ping=pre_ping,
            **kwargs,
        )
    if backend == "postgresql":
        return create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            # Pre-ping costs a round trip per unit of work; without it a connection the server dropped fails one
            # transaction (retried as transient) and the pool then replaces every stale connection at once.
            pool_pre_ping=pre_ping,
            pool_recycle=1800,
            echo=echo,
            **kwargs,
        )
    raise ValueError(f"unsupported database {backend!r}: use sqlite+aiosqlite or postgresql+asyncpg")


# Each SQLite engine's connect call, for connections a component keeps outside the pool (own_sqlite_connection).
_SQLITE_CONNECTORS: weakref.WeakKeyDictionary[Engine, Any] = weakref.WeakKeyDictionary()


def _configure_sqlite(cursor: Any) -> None:
    """Every SQLite connection's settings, pooled or not. The sqlite3 module does not manage transactions
    (autocommit mode, set at connect), so the engine's "begin" hook decides how every transaction starts."""
    # WAL: readers never block the writer and the writer never blocks readers.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # NORMAL is durable across application crashes in WAL mode (only an OS crash can lose the last commit).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


async def own_sqlite_connection(engine: AsyncEngine) -> sqlite_loop.LoopConnection:
    """A connection to ``engine``'s SQLite file outside its pool (which keeps one connection for units of work),
    set up as pooled ones are; the caller closes it. Its writes must still take ``write_turn(engine)`` and begin
    with ``sqlite_loop.begin_immediate``."""
    connect = _SQLITE_CONNECTORS[engine.sync_engine]
    connection = await sqlite_loop.LoopConnection(connect)
    _configure_sqlite(connection._conn.cursor())
    return connection


def _sqlite_engine(url: str, *, echo: bool, **kwargs: Any) -> AsyncEngine:
    parsed = make_url(url)
    database = parsed.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # The dialect's own reading of the URL (file name, URI parameters), connected on the loop's thread.
    (filename,), options = _SQLITE_DIALECT.create_connect_args(parsed)
    connect = sqlite_loop.connector(filename, uri=bool(options.get("uri")))

    async def creator() -> sqlite_loop.LoopConnection:
        return await sqlite_loop.LoopConnection(connect)

    engine = create_async_engine(
        url,
        echo=echo,
        async_creator=creator,
        # The "reset" hook below rolls back only a connection that comes back inside a transaction.
        pool_reset_on_return=None,
        **kwargs,
    )

    _SQLITE_CONNECTORS[engine.sync_engine] = connect

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        _configure_sqlite(dbapi_connection.cursor())

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front. A deferred transaction that reads and then writes cannot
        # wait for the lock (SQLite answers SQLITE_BUSY at once to avoid a deadlock), so concurrent
        # read-modify-write units of work would fail instead of queueing behind each other. Only a
        # read_transaction(), which never writes, begins deferred and so never waits for (or holds) the lock.
        if connection.get_execution_options().get(_SQLITE_READ_ONLY, False):
            connection.exec_driver_sql("BEGIN")
            return
        # Waiting for another process's lock must not block the loop: sleep between tries (see sqlite_loop).
        try:
            await_(sqlite_loop.begin_immediate(connection.connection.driver_connection))
        except sqlite3.OperationalError as exc:
            # As SQLAlchemy reports a statement's database error, so callers catching SQLAlchemyError retry it.
            raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_connection: Any, record: ConnectionPoolEntry, state: PoolResetState) -> None:
        # Most connections come back after a commit or a rollback: rolling back again would be one more hand-off
        # to aiosqlite's thread for nothing, per unit of work. Whatever is still open is rolled back, as the
        # pool's default reset does (never from garbage collection, where no I/O may run).
        driver = record.driver_connection
        if (
            state.asyncio_safe
            and not state.transaction_was_reset
            and driver is not None
            and driver.in_transaction
        ):
            dbapi_connection.rollback()

    return engine


@contextlib.asynccontextmanager
async def read_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads only, one consistent snapshot, rolled back at the end.

    On SQLite it takes no write lock (in WAL mode readers and the writer never wait for each other), so a relay or
    an operator query never delays a commit. Writing through it on SQLite fails (``database is locked``) under
    contention: use ``engine.begin()`` or a unit of work to write.
    """
    async with engine.connect() as connection:
        await connection.execution_options(**{_SQLITE_READ_ONLY: True})
        try:
            yield connection
        finally:
            await connection.rollback()


_WRITERS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def write_turn(engine: AsyncEngine) -> AsyncIterator[None]:
    """Queue this process's SQLite writers on ``engine`` one behind the other (a no-op on PostgreSQL).

    SQLite admits one writer; a connection that finds the write lock taken polls for it, sleeping between tries,
    so concurrent units of work of one process (and its relay) would waste most of their time asleep. Taking
    turns here hands the lock over at once, in arrival order. Writers in other processes are still waited for
    by polling (``sqlite_loop.begin_immediate``). Gives up after 15 s (``OperationalError``).
    """
    if not is_sqlite(engine):
        yield
        return
    lock = _WRITERS.get(engine.sync_engine)
    if lock is None:
        lock = _WRITERS[engine.sync_engine] = asyncio.Lock()
    try:
        async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
            await lock.acquire()
    except TimeoutError as exc:
        raise OperationalError(
            "waiting for this process's SQLite writer", None, TimeoutError("database is locked")
        ) from exc
    try:
        yield
    finally:
        lock.release()
