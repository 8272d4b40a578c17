"""Inserting outbox rows in the caller's transaction (Core executemany: the ORM would cost a round of objects)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func as sql_func
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.outbox.schema import outbox_messages
from shared.outbox.signal import NOTIFY_CHANNEL


async def write_outbox_rows(
    session: AsyncSession | AsyncConnection, rows: Sequence[dict[str, Any]], *, notify: bool = True
) -> None:
    """Add ``rows`` to the outbox in the open transaction; on PostgreSQL also NOTIFY relays (sent at commit)."""
    if not rows:
        return
    await session.execute(insert(outbox_messages), list(rows))
    dialect = session.dialect if isinstance(session, AsyncConnection) else session.get_bind().dialect
    if notify and dialect.name == "postgresql":
        await session.execute(select(sql_func.pg_notify(NOTIFY_CHANNEL, "")))
