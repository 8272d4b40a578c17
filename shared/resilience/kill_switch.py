"""The consumer kill switch: stop taking a handler's messages while its dependency's breaker is open.

Without it, every message delivered during an outage fails fast with ``CircuitOpenError`` and is burnt through
the retry tiers into the dead-letter queue. With it, the handler's consumer is paused when a breaker opens (the
messages wait in their queue) and resumed when the breaker half-opens, so the next message is the probe: if it
succeeds the breaker closes and work flows; if it fails the breaker re-opens and the handler is paused again.
While messages of the handler are still in flight (waiting out the breaker with ``Dependency(open_wait=...)``),
one of them sends the probe, so the switch keeps the handler paused through half-open until the breaker closes
or they are gone.

An open pybreaker only moves to half-open when someone calls it, and nobody calls a paused handler's
dependency, so the switch's watch loop moves due breakers to half-open itself. The same loop re-reads state
from storage, so with Redis-shared breakers an instance pauses when another instance's calls opened the circuit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

import pybreaker

from shared.resilience import metrics
from shared.resilience.breaker import BreakerState, CircuitBreaker

log = logging.getLogger(__name__)


class PausableConsumer(Protocol):
    """What the kill switch needs from a consumer runtime (``shared.messaging.consumer.Consumer`` has it)."""

    async def pause(self, handler: str) -> None: ...

    async def resume(self, handler: str) -> None: ...

    def in_flight(self, handler: str | None = None) -> int: ...


class KillSwitch(pybreaker.CircuitBreakerListener):
    """Pause ``handler`` while any of ``breakers`` is open; resume when none is. A lifecycle component."""

    def __init__(
        self,
        handler: str,
        breakers: Iterable[CircuitBreaker],
        *,
        pause: Callable[[str], Awaitable[None]],
        resume: Callable[[str], Awaitable[None]],
        in_flight: Callable[[], int] = lambda: 0,
        poll_interval: float = 1.0,
    ) -> None:
        self.name = f"kill switch of {handler}"
        self.handler = handler
        self._breakers = list(breakers)
        if not self._breakers:
            raise ValueError("a kill switch needs at least one breaker to watch")
        self._pause = pause
        self._resume = resume
        self._in_flight = in_flight
        self._poll_interval = poll_interval
        self._paused = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_consumer(
        cls, consumer: PausableConsumer, handler: str, breakers: Iterable[CircuitBreaker], **options: float
    ) -> KillSwitch:
        """A kill switch pausing and resuming ``handler`` on ``consumer``."""
        return cls(
            handler,
            breakers,
            pause=consumer.pause,
            resume=consumer.resume,
            in_flight=lambda: consumer.in_flight(handler),
            **options,
        )

    @property
    def paused(self) -> bool:
        """True while the switch holds the handler paused."""
        return self._paused

    async def start(self) -> None:
        """Listen to the breakers and start the watch loop (pauses at once if a breaker is already open)."""
        if self._task is not None:
            return
        for breaker in self._breakers:
            breaker.add_listener(self)
        self._task = asyncio.create_task(self._watch(), name=self.name)

    async def stop(self) -> None:
        """Stop watching. The handler stays as it is; the consumer's own stop takes it from there."""
        for breaker in self._breakers:
            with contextlib.suppress(ValueError):
                breaker.remove_listener(self)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        # Called synchronously inside the breaker; the watch loop does the (async) pausing.
        self._wake.set()

    async def _watch(self) -> None:
        while True:
            self._wake.clear()
            wait = self._poll_interval
            try:
                wait = min(wait, self._advance_due_breakers())
                await self._apply(self._should_pause())
            except Exception:
                # A watch loop that died would leave the handler paused for good: log and keep watching.
                log.exception("kill switch of %s: watch pass failed", self.handler)
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel that races a wake-up.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    def _advance_due_breakers(self) -> float:
        """Half-open every due breaker; return the time until the next one is due."""
        wait = self._poll_interval
        for breaker in self._breakers:
            if breaker.state is BreakerState.OPEN:
                remaining = breaker.seconds_until_half_open()
                if remaining <= 0:
                    breaker.try_half_open()
                else:
                    wait = min(wait, remaining)
        return wait

    def _should_pause(self) -> bool:
        states = {breaker.state for breaker in self._breakers}
        if BreakerState.OPEN in states:
            return True
        # Half-open: messages still in flight (waiting out the breaker with open_wait) will send the probe;
        # resuming now would only hand the consumer more messages to hold while the probe is undecided.
        return BreakerState.HALF_OPEN in states and self._paused and self._in_flight() > 0

    async def _apply(self, should_pause: bool) -> None:
        if should_pause == self._paused:
            return
        try:
            if should_pause:
                await self._pause(self.handler)
                log.warning("kill switch: paused %s, a dependency's circuit is open", self.handler)
            else:
                await self._resume(self.handler)
                log.warning("kill switch: resumed %s, its dependencies' circuits are not open", self.handler)
        except Exception:
            # Keep watching: the next pass tries again (e.g. the channel was being re-established).
            log.exception(
                "kill switch of %s could not %s", self.handler, "pause" if should_pause else "resume"
            )
            return
        self._paused = should_pause
        metrics.HANDLER_PAUSED.labels(self.handler).set(1 if should_pause else 0)
