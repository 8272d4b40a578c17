"""The expiry sweeper: a lifecycle component that releases reservations nobody decided in time."""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import Counter

from inventory.service_layer import handlers
from inventory.service_layer.ports import InventoryUnitOfWork
from shared.runtime.periodic import PeriodicTask

log = logging.getLogger(__name__)

EXPIRED = Counter(
    "inventory_reservations_expired_total", "Reservations released because no outcome came in time"
)


class ExpirySweeper(PeriodicTask):
    """Releases due reservations every ``interval`` seconds until stopped."""

    def __init__(
        self,
        uow_factory: Callable[[], InventoryUnitOfWork],
        policy: handlers.ReservationPolicy,
        *,
        interval: float,
        batch_size: int,
    ) -> None:
        super().__init__("expiry-sweeper", self._round, interval=interval)
        self._uow_factory = uow_factory
        self._policy = policy
        self._batch_size = batch_size

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

    async def _round(self) -> None:
        released = await self.sweep()
        if released:
            log.info("released %d expired reservations", released)
