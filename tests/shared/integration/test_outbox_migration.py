"""The alembic operations services include create exactly the tables the outbox and inbox code uses."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, inspect

from shared.outbox.migration import PLATFORM_METADATA, create_outbox_and_inbox, drop_outbox_and_inbox
from shared.persistence.engine import create_engine

pytestmark = pytest.mark.integration


def _upgrade_then_compare(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    create_outbox_and_inbox(Operations(context))
    return list(compare_metadata(context, PLATFORM_METADATA))


def _downgrade(connection: Connection) -> list[str]:
    drop_outbox_and_inbox(Operations(MigrationContext.configure(connection)))
    return list(inspect(connection).get_table_names())


async def test_migrated_schema_matches_the_tables_when_a_service_runs_its_first_revision(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            assert await connection.run_sync(_upgrade_then_compare) == []
        async with engine.begin() as connection:
            assert await connection.run_sync(_downgrade) == []
    finally:
        await engine.dispose()
