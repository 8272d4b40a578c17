"""Fixtures shared by the outbox and inbox integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.persistence.engine import create_engine
from shared.testing.outbox import create_tables


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on this test's own database (SQLite and PostgreSQL), with the probe and platform tables."""
    engine = create_engine(database_url)
    await create_tables(engine)
    yield engine
    await engine.dispose()
