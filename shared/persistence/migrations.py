"""Alembic for every service, one way: ``upgrade`` from code (``python -m <service> migrate``, tests, ``make run``)
and ``run_environment`` for each service's ``migrations/env.py``.

A service's ``env.py`` is two lines: import its metadata and call ``run_environment(metadata)``. Its migrations
target the service's tables plus the platform's (outbox, relay lease, inbox), so autogenerate sees both.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from shared.persistence.metadata import PLATFORM_METADATA


def alembic_config(database_url: str, migrations: Path) -> Config:
    """An alembic configuration for the migrations in directory ``migrations`` on ``database_url``."""
    config = Config()
    config.set_main_option("script_location", str(migrations))
    # ConfigParser interpolates '%': a password with a '%' in it would otherwise break the URL.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, migrations: Path, revision: str = "head") -> None:
    """Bring the database to ``revision`` (creates a SQLite file's directory first)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url, migrations), revision)


def run_environment(service_metadata: MetaData) -> None:
    """The body of a service's alembic ``env.py``: offline (SQL script) or online on its async engine."""
    config = context.config
    target_metadata = [service_metadata, PLATFORM_METADATA]
    url = config.get_main_option("sqlalchemy.url") or ""
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def run(connection: Connection) -> None:
        # Batch mode lets ALTER TABLE work on SQLite, which cannot alter most things in place.
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_online() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(run)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(run_online())
