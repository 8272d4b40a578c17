"""The charge sweeper: a background loop that retries due charges and fails those past their deadline."""

from __future__ import annotations

import logging

from payment.service_layer import handlers
from payment.service_layer.handlers import Services
from shared.runtime.periodic import PeriodicTask

log = logging.getLogger(__name__)


class ChargeSweeper(PeriodicTask):
    """A lifecycle component: sweeps every ``interval`` seconds until stopped (finishing the sweep it is in)."""

    def __init__(self, services: Services, *, interval: float) -> None:
        super().__init__("charge-sweeper", self.sweep, interval=interval)
        self._services = services

    async def sweep(self) -> int:
        touched = await handlers.sweep(self._services)
        if touched:
            log.info("sweep: %d payments retried or failed", touched)
        return touched
