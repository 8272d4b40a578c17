"""pytest fixtures for real-infrastructure tests: a fresh RabbitMQ vhost and a fresh database per test.

Loaded from the repository's root ``conftest.py``. Endpoints come from the environment so CI and each
developer can point them elsewhere:
``WARREN_TEST_AMQP`` (amqp://guest:guest@127.0.0.1:5672), ``WARREN_TEST_MANAGEMENT`` (http://127.0.0.1:15672),
``WARREN_TEST_POSTGRES`` (postgresql://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from shared.messaging.management import ManagementClient

AMQP_BASE = os.environ.get("WARREN_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672")
MANAGEMENT_URL = os.environ.get("WARREN_TEST_MANAGEMENT", "http://127.0.0.1:15672")
POSTGRES_BASE = os.environ.get("WARREN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def rabbit_admin() -> AsyncIterator[ManagementClient]:
    async with ManagementClient(MANAGEMENT_URL) as client:
        yield client


@pytest.fixture
async def vhost(rabbit_admin: ManagementClient) -> AsyncIterator[str]:
    """A brand-new vhost for this test only, deleted afterwards (with everything in it)."""
    name = unique("test")
    await rabbit_admin.create_vhost(name)
    await rabbit_admin.set_permissions(name, "guest")
    try:
        yield name
    finally:
        await rabbit_admin.delete_vhost(name)


@pytest.fixture
def amqp_url(vhost: str) -> str:
    return f"{AMQP_BASE.rstrip('/')}/{vhost}"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A brand-new PostgreSQL database (SQLAlchemy asyncpg URL), dropped afterwards."""
    name = unique("test").replace("-", "_")
    admin = await asyncpg.connect(f"{POSTGRES_BASE}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield f"{POSTGRES_BASE.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
    admin = await asyncpg.connect(f"{POSTGRES_BASE}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file of this test's own (the embedded default)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'service.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test once on SQLite and once on PostgreSQL: the same code must hold on both."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'service.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
