"""DriverStatement on both databases: the same values as SQLAlchemy, inside the connection's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.persistence.compiled import DriverStatement
from shared.persistence.engine import create_engine
from shared.persistence.metadata import UTCDateTime

pytestmark = pytest.mark.integration

metadata = MetaData()
things = Table(
    "driver_things",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("tags", JSON, nullable=False),
    Column("note", String(100), nullable=True),
)
BY_ID = select(things).where(things.c.id == bindparam("thing_id")).with_for_update()
DUE = select(things.c.id).where(things.c.due_at <= bindparam("now")).order_by(things.c.id)
BUMP = (
    update(things)
    .where(things.c.id == bindparam("b_id"))
    .values(count=bindparam("count"), tags=bindparam("tags"))
)
AT = datetime(2026, 11, 29, 12, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(
            things.insert(),
            [
                {"id": "a", "count": 1, "due_at": AT, "tags": {"k": [1, "x"]}, "note": None},
                {"id": "b", "count": 2, "due_at": None, "tags": [], "note": "n"},
            ],
        )
    yield engine
    await engine.dispose()


async def test_rows_are_what_sqlalchemy_returns(engine: AsyncEngine) -> None:
    for thing_id in ("a", "b", "missing"):
        async with engine.connect() as connection:
            expected = [
                dict(row) for row in (await connection.execute(BY_ID, {"thing_id": thing_id})).mappings()
            ]
            assert await DriverStatement(BY_ID).rows(connection, {"thing_id": thing_id}) == expected
    async with engine.connect() as connection:
        [row] = await DriverStatement(BY_ID).rows(connection, {"thing_id": "a"})
        assert row["due_at"] == AT
        assert row["due_at"].tzinfo is not None  # aware, as UTCDateTime returns it
        assert row["tags"] == {"k": [1, "x"]}
        # A bound datetime is converted as SQLAlchemy converts it (naive UTC text on SQLite, compared as text).
        due = DriverStatement(DUE)
        assert await due.rows(connection, {"now": AT + timedelta(seconds=1)}) == [{"id": "a"}]
        assert await due.rows(connection, {"now": AT - timedelta(seconds=1)}) == []


async def test_an_update_counts_its_rows_and_belongs_to_the_connections_transaction(
    engine: AsyncEngine,
) -> None:
    bump = DriverStatement(BUMP)
    async with engine.connect() as connection:
        assert await bump.rowcount(connection, {"b_id": "a", "count": 5, "tags": ["new"]}) == 1
        assert await bump.rowcount(connection, {"b_id": "missing", "count": 5, "tags": []}) == 0
        await connection.rollback()  # the update ran inside the transaction it began: rolled back with it
    async with engine.connect() as connection:
        [row] = await DriverStatement(BY_ID).rows(connection, {"thing_id": "a"})
        assert (row["count"], row["tags"]) == (1, {"k": [1, "x"]})
        await bump.rowcount(connection, {"b_id": "a", "count": 6, "tags": ["kept"]})
        await connection.commit()
    async with engine.connect() as connection:
        row = (await connection.execute(BY_ID, {"thing_id": "a"})).mappings().one()
        assert (row["count"], row["tags"]) == (6, ["kept"])


async def test_expanding_parameters_are_refused(engine: AsyncEngine) -> None:
    statement = DriverStatement(select(things.c.id).where(things.c.id.in_(bindparam("ids", expanding=True))))
    async with engine.connect() as connection:
        with pytest.raises(ValueError, match="expanding"):
            await statement.rows(connection, {"ids": ["a"]})


async def test_an_insert_takes_every_column_and_fails_as_sqlalchemy_fails(engine: AsyncEngine) -> None:
    insert = DriverStatement(things.insert())
    row = {"id": "c", "count": 3, "due_at": None, "tags": [], "note": None}
    async with engine.connect() as connection:
        assert await insert.rowcount(connection, row) == 1
        with pytest.raises(ValueError, match="no value for 'note'"):  # no silent NULL for a forgotten column
            await insert.rowcount(connection, {key: value for key, value in row.items() if key != "note"})
        with pytest.raises(IntegrityError):  # SQLAlchemy's, as callers catch it for any statement
            await insert.rowcount(connection, row)
        await connection.rollback()
    async with engine.connect() as connection:
        assert await DriverStatement(BY_ID).rows(connection, {"thing_id": "c"}) == []
