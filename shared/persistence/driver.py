"""Platform statements run on the database driver itself (asyncpg, aiosqlite), inside SQLAlchemy's transaction.

The few fixed statements every message or batch runs (the relay's claim and mark, the inbox mark) skip
SQLAlchemy's per-statement work; on SQLite they also make one hand-off to aiosqlite's thread instead of three or
four. They are written once with PostgreSQL's numbered parameters (``$1``), which SQLite reads as ``?1``, and
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
    """Run ``text`` on ``connection``'s driver, in its current transaction; the rows it returns."""
    dialect = connection.dialect.name
    driver = (await connection.get_raw_connection()).driver_connection
    if dialect == "postgresql":
        return list(await driver.fetch(text, *args))  # type: ignore[union-attr]
    return list(await driver.execute_fetchall(sql_for(dialect, text), args))  # type: ignore[union-attr]
