"""A lifecycle component that runs one coroutine every ``interval`` seconds until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class PeriodicTask:
    """Run ``work`` now and then every ``interval`` seconds; ``stop`` lets the round in progress finish.

    A failing round is logged and retried at the next tick (the database may be briefly away), so a
    background sweep never dies silently or takes the service down.
    """

    def __init__(self, name: str, work: Callable[[], Awaitable[object]], *, interval: float) -> None:
        self.name = name
        self._work = work
        self._interval = interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._work()
            except Exception:
                log.exception("%s failed; trying again in %.1fs", self.name, self._interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)
