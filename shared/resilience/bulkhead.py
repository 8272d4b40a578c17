"""A bulkhead: a cap on concurrent calls to one dependency, so a slow dependency cannot take every task."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from shared.resilience import metrics
from shared.resilience.errors import BulkheadFull


@dataclass(frozen=True)
class BulkheadPolicy:
    """At most ``max_concurrent`` calls in flight; a caller waits up to ``max_wait`` seconds for a slot."""

    max_concurrent: int = 10
    max_wait: float = 1.0

    def __post_init__(self) -> None:
        if self.max_concurrent < 1 or self.max_wait < 0:
            raise ValueError("need max_concurrent >= 1 and max_wait >= 0")


class Bulkhead:
    """An asyncio semaphore with a bounded wait: ``BulkheadFull`` rather than an unbounded queue of callers."""

    def __init__(self, dependency: str, policy: BulkheadPolicy | None = None) -> None:
        self.dependency = dependency
        self.policy = policy or BulkheadPolicy()
        self._semaphore = asyncio.Semaphore(self.policy.max_concurrent)
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Calls holding a slot right now."""
        return self._in_flight

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of the block; ``BulkheadFull`` if none frees up within ``max_wait``."""
        if self.policy.max_wait == 0:
            if self._semaphore.locked():
                raise self._full()
            await self._semaphore.acquire()
        else:
            # asyncio.timeout, not wait_for: 3.11's wait_for can lose a permit acquired as the timeout fires.
            try:
                async with asyncio.timeout(self.policy.max_wait):
                    await self._semaphore.acquire()
            except TimeoutError:
                raise self._full() from None
        self._in_flight += 1
        gauge = metrics.BULKHEAD_IN_FLIGHT.labels(self.dependency)
        gauge.inc()
        try:
            yield
        finally:
            self._in_flight -= 1
            gauge.dec()
            self._semaphore.release()

    def _full(self) -> BulkheadFull:
        metrics.CALLS.labels(self.dependency, "rejected_bulkhead").inc()
        return BulkheadFull(
            self.dependency,
            f"{self.policy.max_concurrent} calls in flight, no slot within {self.policy.max_wait}s",
        )
