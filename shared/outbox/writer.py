"""Inserting outbox rows in the caller's transaction, in as few round trips as the database allows.

One statement per commit, run on the database driver inside the unit of work's transaction
(:mod:`shared.persistence.driver`: every commit with an event runs it, so SQLAlchemy's per-statement work is
skipped): one ``INSERT`` with a ``VALUES`` tuple per row. On
PostgreSQL the same statement also notifies relays in other processes (``RETURNING pg_notify(...)``: PostgreSQL
sends one notification per channel and payload at commit, and none on rollback), so waking them costs no extra
round trip; the payload names the engine and process, and a relay on that same engine, already woken
in-process, skips it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.outbox.schema import MESSAGE_COLUMNS
from shared.outbox.signal import NOTIFY_CHANNEL, notify_payload
from shared.persistence.driver import fetch_rows, timestamp

# Rows per statement: 13 parameters a row stays far below PostgreSQL's 32,767 and SQLite's 32,766.
CHUNK = 1000


@lru_cache(maxsize=64)
def _insert_sql(rows: int, notify: bool) -> str:
    """The statement for ``rows`` rows (one text per count, so the driver prepares each once)."""
    width = len(MESSAGE_COLUMNS)
    values = ", ".join(
        "(" + ", ".join(f"${row * width + column + 1}" for column in range(width)) + ")"
        for row in range(rows)
    )
    returning = f" RETURNING pg_notify('{NOTIFY_CHANNEL}', ${rows * width + 1})" if notify else ""
    return f"INSERT INTO outbox_messages ({', '.join(MESSAGE_COLUMNS)}) VALUES {values}{returning}"


async def write_outbox_rows(
    connection: AsyncConnection, rows: Sequence[dict[str, Any]], *, notify: bool = True
) -> None:
    """Add ``rows`` to the outbox in the open transaction; on PostgreSQL also NOTIFY relays (sent at commit)."""
    if not rows:
        return
    dialect = connection.dialect.name
    notify = notify and dialect == "postgresql"
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        args: list[Any] = []
        for row in chunk:
            for column in MESSAGE_COLUMNS:
                value = row[column]
                if column == "headers" and value is not None:
                    value = json.dumps(value)  # a JSON column: text on SQLite, json (as text) on PostgreSQL
                elif column == "created_at":
                    value = timestamp(dialect, value)
                args.append(value)
        if notify:
            args.append(notify_payload(connection.engine))
        await fetch_rows(connection, _insert_sql(len(chunk), notify), *args)
