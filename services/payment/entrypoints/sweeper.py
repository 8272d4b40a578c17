"""The charge sweeper: a background loop that retries due charges and fails those past their deadline."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from payment.service_layer import handlers
from payment.service_layer.handlers import Services

log = logging.getLogger(__name__)


class ChargeSweeper:
    """A lifecycle component: sweeps every ``interval`` seconds until stopped (finishing the sweep it is in)."""

    name = "charge-sweeper"

    def __init__(self, services: Services, *, interval: float) -> None:
        self._services = services
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
                touched = await handlers.sweep(self._services)
                if touched:
                    log.info("sweep: %d payments retried or failed", touched)
            except Exception:
                log.exception("sweep failed; trying again in %.1fs", self._interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)
