"""Alembic environment for fraud's database (async engines: aiosqlite or asyncpg)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from fraud.adapters.tables import metadata
from shared.outbox.migration import PLATFORM_METADATA

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=[metadata, PLATFORM_METADATA], render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


async def _migrate() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


asyncio.run(_migrate())
