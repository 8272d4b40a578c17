"""Platform statements run on the database driver itself (asyncpg, aiosqlite), inside SQLAlchemy's transaction.

The few fixed statements every message or batch runs (the relay's claim and mark, the inbox mark, the outbox
insert) skip SQLAlchemy's per-statement work (about 100 us a statement on asyncpg, 40 us on SQLite). They are written once with PostgreSQL's numbered parameters (``$1``), which SQLite reads as ``?1``, and
take values as the tables store them (see :func:`timestamp`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


def sql_for(dialect: str, text: str) -> str:
    """``text`` written with ``$n`` parameters, as ``dialect`` reads it."""
    return text if dialect == "postgresql" else text.replace("$", "?")


def timestamp(dialect: str, at: datetime) -> Any:
    """``at`` as :class:`~shared.persistence.metadata.UTCDateTime` stores it: timestamptz on PostgreSQL, naive UTC
    text on SQLite (so it compares as text with what SQLAlchemy wrote)."""
    if dialect == "postgresql":
        return at
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


async def fetch_rows(connection: AsyncConnection, text: str, *args: Any) -> list[Any]:
    """Run ``text`` on ``connection``'s driver, inside ``connection``'s transaction (begun first if it has not
    been yet); the rows it returns."""
    dialect = connection.dialect.name
    driver = await driver_in_transaction(connection)
    if dialect == "postgresql":
        return list(await driver.fetch(text, *args))
    return list(await driver.execute_fetchall(sql_for(dialect, text), args))


async def pooled_connection(connection: AsyncConnection) -> Any:
    """``connection``'s pooled DB-API connection (``.driver_connection`` is asyncpg's or aiosqlite's).

    A live connection hands it out without I/O, so without the greenlet round trip that
    ``get_raw_connection()`` makes in case it has to reconnect: two per unit of work (the inbox mark and the
    outbox insert), two per relay batch.
    """
    sync = connection.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        return sync.connection
    return await connection.get_raw_connection()


async def driver_in_transaction(connection: AsyncConnection) -> Any:
    """``connection``'s driver connection, with ``connection``'s transaction begun on the database.

    SQLAlchemy begins lazily: on SQLite at its first statement (the engine's "begin" hook sends BEGIN IMMEDIATE),
    on asyncpg when its adapter runs the first statement. A statement sent to the driver before either would run
    in autocommit, outside the unit of work: an inbox mark committed without the handler's effects.
    """
    if not connection.in_transaction():
        await connection.begin()  # SQLite: the begin hook takes the write lock here
    raw = await pooled_connection(connection)
    if connection.dialect.name == "postgresql":
        adapter: Any = raw.dbapi_connection
        # SQLAlchemy's asyncpg adapter sends BEGIN with its first statement; with none yet, send it now, as it
        # would (it then commits or rolls back this transaction with the connection).
        if adapter._transaction is None:
            await adapter._start_transaction()
    return raw.driver_connection
