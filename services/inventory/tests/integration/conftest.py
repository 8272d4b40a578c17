from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.adapters.migrate import upgrade
from shared.outbox.schema import outbox_messages
from shared.persistence.engine import create_engine


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated inventory database (SQLite, then PostgreSQL)."""
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def outbox_types(engine: AsyncEngine) -> list[str]:
    """The message types written to the outbox, in commit order."""
    async with engine.connect() as connection:
        rows = await connection.execute(select(outbox_messages.c.message_type).order_by(outbox_messages.c.id))
        return [row.message_type for row in rows]


@pytest.fixture
def outbox() -> object:
    return outbox_types
