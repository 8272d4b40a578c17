"""Inserting outbox rows in the caller's transaction, in as few round trips as the database allows.

One statement per commit: a single row is one ``INSERT``, several are one multi-row ``INSERT ... VALUES``
(SQLAlchemy's insertmanyvalues). On PostgreSQL the same statement also notifies relays in other processes
(``RETURNING pg_notify(...)``: PostgreSQL sends one notification per channel and payload at commit, and none on
rollback), so waking them costs no extra round trip; the payload names the engine and process, and a relay on
that same engine, already woken in-process, skips it. Statements are built once, so SQLAlchemy's compiled cache
serves every commit, and they run on the unit of work's connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert, func, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.outbox.schema import outbox_messages
from shared.outbox.signal import NOTIFY_CHANNEL, notify_payload

# inline(): nobody reads the new rows' ids, so PostgreSQL need not return them (no RETURNING id, no row to fetch).
_INSERT = insert(outbox_messages).inline()
# One statement per engine and process (the payload names them), built once so the compiled cache serves it.
_INSERT_AND_NOTIFY: dict[str, Insert] = {}


def _insert_and_notify(connection: AsyncConnection) -> Insert:
    payload = notify_payload(connection.engine)
    statement = _INSERT_AND_NOTIFY.get(payload)
    if statement is None:
        statement = insert(outbox_messages).returning(func.pg_notify(NOTIFY_CHANNEL, payload))
        _INSERT_AND_NOTIFY[payload] = statement
    return statement


async def write_outbox_rows(
    connection: AsyncConnection, rows: Sequence[dict[str, Any]], *, notify: bool = True
) -> None:
    """Add ``rows`` to the outbox in the open transaction; on PostgreSQL also NOTIFY relays (sent at commit)."""
    if not rows:
        return
    statement = (
        _insert_and_notify(connection) if notify and connection.dialect.name == "postgresql" else _INSERT
    )
    await connection.execute(statement, rows[0] if len(rows) == 1 else list(rows))
