"""SQLite on the event loop's own thread: aiosqlite's API, without aiosqlite's worker thread.

aiosqlite ships every call (cursor, execute, fetch, close, commit) to a worker thread and back. A statement on a
local database in WAL mode takes a few microseconds; the hand-off around it costs far more: on this project's
2-core machine a primary-key SELECT through SQLAlchemy took 128 µs of CPU and 168 µs of wall time via the thread
against 7 µs run directly, and under load every hand-off also waits for the scheduler to run the loop again,
while this process holds SQLite's one write lock. So a SQLite engine (``shared.persistence.engine``) runs the
sqlite3 calls directly, through :class:`LoopConnection`, which SQLAlchemy's aiosqlite dialect drives as usual.

Nothing may block the loop, and the one thing in SQLite that waits is the write lock held by another process
(WAL readers never wait). So connections have ``busy_timeout`` 0 and :func:`begin_immediate` waits for the lock
asynchronously, retrying with short sleeps (as SQLite's own busy handler does, without holding the thread).
This process's own writers never meet the lock taken: they queue in ``write_turn`` first.

What does still run on the loop: SQLite's automatic WAL checkpoint, which the commit that fills the WAL past 1,000
pages runs, with an fsync (``synchronous=NORMAL``). Measured here: one commit in about 900 took 6-7 ms instead of
10-30 µs, a bounded pause, against a hand-off on every call.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from typing import Any

import aiosqlite

# How long a writer waits for another process's write lock before giving up ("database is locked").
WRITE_LOCK_TIMEOUT = 15.0
_FIRST_RETRY, _MAX_RETRY = 0.001, 0.05


class _RunNow:
    """Stands in for aiosqlite's queue to its worker thread: runs each call at once, on this thread."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the waiter, as aiosqlite's thread does
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class LoopConnection(aiosqlite.Connection):
    """An :class:`aiosqlite.Connection` whose calls run on the calling (event loop) thread, in order."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int = 64) -> None:
        super().__init__(connector, iter_chunk_size)
        self._tx = _RunNow()  # type: ignore[assignment]  # the worker thread is never started

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> LoopConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, LoopConnection]:
        return self._connect().__await__()


def connector(database: str, *, uri: bool = False) -> Callable[[], sqlite3.Connection]:
    """A sqlite3 connect call for ``database``: autocommit mode (the engine's begin hook starts every
    transaction itself) and no busy wait (see the module docstring)."""

    def connect() -> sqlite3.Connection:
        # check_same_thread off: every call runs on the loop's thread, but garbage collection may finalise the
        # connection from another one.
        return sqlite3.connect(database, timeout=0, isolation_level=None, check_same_thread=False, uri=uri)

    return connect


def is_locked(exc: BaseException) -> bool:
    """True for SQLite's "the write lock is taken" (SQLITE_BUSY), as sqlite3 reports it."""
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


async def begin_immediate(driver: aiosqlite.Connection, *, timeout: float | None = None) -> None:
    """``BEGIN IMMEDIATE``: take the write lock, waiting (without blocking the loop) while another process holds
    it; ``sqlite3.OperationalError`` ("database is locked") after ``timeout`` seconds (default
    :data:`WRITE_LOCK_TIMEOUT`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (WRITE_LOCK_TIMEOUT if timeout is None else timeout)
    delay = _FIRST_RETRY
    while True:
        try:
            await driver.execute_fetchall("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or loop.time() + delay > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, _MAX_RETRY)
