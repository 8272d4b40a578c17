"""Engine set-up: SQLite in WAL with immediate transactions; UTC timestamps on both databases."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select, text, update
from sqlalchemy.exc import OperationalError

from shared.persistence import sqlite_loop
from shared.persistence.driver import pooled_connection
from shared.persistence.engine import create_engine, is_sqlite, read_transaction
from shared.persistence.metadata import UTCDateTime


async def test_sqlite_runs_in_wal_with_foreign_keys_when_engine_is_created(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'deep' / 'service.db'}")
    async with engine.connect() as db:
        assert (await db.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await db.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        # No busy wait in SQLite itself: it would block the event loop (see sqlite_loop.begin_immediate).
        assert (await db.execute(text("PRAGMA busy_timeout"))).scalar() == 0
    await engine.dispose()
    assert is_sqlite(engine)
    assert not is_sqlite("postgresql+asyncpg://x/y")


async def test_sqlite_statements_run_on_the_event_loop_thread(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'loop.db'}")
    threads: list[int] = []
    async with engine.connect() as db:
        driver = (await db.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.create_function("whose_thread", 0, lambda: threads.append(threading.get_ident()) or 1)
        assert (await db.execute(text("SELECT whose_thread()"))).scalar() == 1
    await engine.dispose()
    assert threads == [threading.get_ident()]  # no hand-off to a worker thread


async def test_writer_waits_for_another_process_lock_while_the_loop_keeps_running(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    counters = Table("counters", MetaData(), Column("id", Integer, primary_key=True), Column("n", Integer))
    async with engine.begin() as db:
        await db.run_sync(counters.metadata.create_all)
        await db.execute(counters.insert().values(id=1, n=0))
    other = sqlite3.connect(path, isolation_level=None)  # another process's connection, in effect
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def write() -> None:
        async with engine.begin() as db:
            await db.execute(update(counters).values(n=1))

    writer = asyncio.create_task(write())
    async with asyncio.timeout(5):
        while ticks < 20:  # the loop runs other work while the writer waits for the lock
            await asyncio.sleep(0)  # yield: the writer's retries and these ticks interleave
            ticks += 1
    assert not writer.done()
    other.execute("COMMIT")
    async with asyncio.timeout(5):
        await writer
    async with engine.connect() as db:
        assert (await db.execute(select(counters.c.n))).scalar() == 1
    await engine.dispose()
    other.close()


async def test_begin_immediate_gives_up_when_the_lock_is_held_past_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / "held.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE t (n INTEGER)")
    other.execute("BEGIN IMMEDIATE")
    driver = await sqlite_loop.LoopConnection(sqlite_loop.connector(str(path)))
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await sqlite_loop.begin_immediate(driver, timeout=0.05)
    await driver.close()
    other.execute("ROLLBACK")
    other.close()


async def test_engine_raises_sqlalchemy_operational_error_when_another_process_keeps_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "kept.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as db:
        await db.execute(text("CREATE TABLE t (n INTEGER)"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr(sqlite_loop, "WRITE_LOCK_TIMEOUT", 0.05)
    # As SQLAlchemy reports any database error: callers catching SQLAlchemyError retry it.
    with pytest.raises(OperationalError, match="locked"):
        async with engine.begin() as db:
            await db.execute(text("INSERT INTO t VALUES (1)"))
    other.execute("ROLLBACK")
    other.close()
    await engine.dispose()


async def test_concurrent_read_modify_writes_all_land_when_sqlite_serialises_them(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'counter.db'}")
    counters = Table("counters", MetaData(), Column("id", Integer, primary_key=True), Column("n", Integer))
    async with engine.begin() as db:
        await db.run_sync(counters.metadata.create_all)
        await db.execute(counters.insert().values(id=1, n=0))

    async def increment() -> None:
        async with engine.begin() as db:
            n = (await db.execute(select(counters.c.n))).scalar_one()
            await asyncio.sleep(0)  # let the others interleave between the read and the write
            await db.execute(update(counters).values(n=n + 1))

    await asyncio.gather(*(increment() for _ in range(20)))
    async with engine.connect() as db:
        assert (
            await db.execute(select(counters.c.n))
        ).scalar() == 20  # no lost update, no "database is locked"
    await engine.dispose()


async def test_reads_neither_wait_for_nor_block_a_writer_when_in_a_sqlite_read_transaction(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'reads.db'}")
    counters = Table("counters", MetaData(), Column("id", Integer, primary_key=True), Column("n", Integer))
    async with engine.begin() as db:
        await db.run_sync(counters.metadata.create_all)
        await db.execute(counters.insert().values(id=1, n=0))
    async with asyncio.timeout(2):  # waiting for the lock would take up to the 15 s busy timeout
        async with engine.begin() as writer:  # holds the write lock (BEGIN IMMEDIATE) until the block ends
            await writer.execute(update(counters).values(n=1))
            async with read_transaction(engine) as reader:  # does not wait for the writer...
                assert (await reader.execute(select(counters.c.n))).scalar() == 0
        async with read_transaction(engine) as reader, engine.begin() as writer:
            assert (await reader.execute(select(counters.c.n))).scalar() == 1
            await writer.execute(update(counters).values(n=2))  # ...and a reader holds no lock a writer needs
    await engine.dispose()


async def test_sqlite_connection_is_rolled_back_only_when_it_comes_back_inside_a_transaction(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'reset.db'}", pool_size=1, max_overflow=0)
    counters = Table("counters", MetaData(), Column("id", Integer, primary_key=True), Column("n", Integer))
    async with engine.begin() as db:
        await db.run_sync(counters.metadata.create_all)
        await db.execute(counters.insert().values(id=1, n=0))
    rollbacks: list[str] = []
    async with engine.connect() as db:
        driver = (await db.get_raw_connection()).driver_connection
        assert driver is not None
        original = driver.rollback

        async def counting_rollback() -> None:
            rollbacks.append("rollback")
            await original()

        driver.rollback = counting_rollback
        await db.execute(update(counters).values(n=1))
        await db.commit()
    assert rollbacks == []  # committed: nothing left to roll back, no extra statement
    async with engine.connect() as db:
        raw = await db.get_raw_connection()
        await raw.driver_connection.execute("BEGIN IMMEDIATE")  # a transaction SQLAlchemy does not know of
        await raw.driver_connection.execute("UPDATE counters SET n = 99")
    assert rollbacks == ["rollback"]  # ... is rolled back when the connection goes back to the pool
    async with asyncio.timeout(2), engine.begin() as db:  # and the write lock went with it
        assert (await db.execute(select(counters.c.n))).scalar() == 1
    await engine.dispose()


async def test_timestamps_come_back_in_utc_when_stored_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    stamps = Table("stamps", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime))
    at = datetime(2026, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    async with engine.begin() as db:
        await db.run_sync(stamps.metadata.create_all)
        await db.execute(stamps.insert().values(id=1, at=at))
        stored = (await db.execute(select(stamps.c.at))).scalar()
    assert stored == at
    assert stored.tzinfo is UTC
    await engine.dispose()


def test_naive_timestamps_are_refused_when_bound() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), dialect=None)  # type: ignore[arg-type]


def test_unsupported_database_is_refused_when_engine_is_created() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        create_engine("mysql+aiomysql://x/y")


async def test_pooled_connection_is_the_raw_connection_and_is_replaced_after_invalidation(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'raw.db'}")
    async with engine.connect() as db:
        live = await pooled_connection(db)
        assert live is await db.get_raw_connection()
        await db.invalidate()
        # As get_raw_connection() does: an invalidated connection is replaced, never handed out again.
        fresh = await pooled_connection(db)
        assert fresh.driver_connection is not live.driver_connection
        assert (await db.execute(text("SELECT 1"))).scalar() == 1
    await engine.dispose()
