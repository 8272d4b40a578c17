"""The expiry sweeper: a lifecycle component that releases reservations nobody decided in time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from prometheus_client import Counter

from inventory.service_layer import handlers
from inventory.service_layer.ports import InventoryUnitOfWork

log = logging.getLogger(__name__)

EXPIRED = Counter(
    "inventory_reservations_expired_total", "Reservations released because no outcome came in time"
)


class ExpirySweeper:
    name = "expiry-sweeper"

    def __init__(
        self,
        uow_factory: Callable[[], InventoryUnitOfWork],
        policy: handlers.ReservationPolicy,
        *,
        interval: float,
        batch_size: int,
    ) -> None:
        self._uow_factory = uow_factory
        self._policy = policy
        self._interval = interval
        self._batch_size = batch_size
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def sweep(self) -> int:
        """Release every reservation due now, batch after batch; returns how many."""
        total = 0
        while True:
            released = await handlers.release_expired(
                self._uow_factory, self._policy, batch_size=self._batch_size
            )
            total += released
            EXPIRED.inc(released)
            if released < self._batch_size:
                return total

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                released = await self.sweep()
                if released:
                    log.info("released %d expired reservations", released)
            except Exception:  # the database may be briefly away; the next round tries again
                log.exception("expiry sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)
