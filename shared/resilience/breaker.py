"""An asyncio-correct circuit breaker on pybreaker's state machine, storage and listeners.

pybreaker's ``call``/decorator only understands synchronous functions (and Tornado): wrapping a coroutine
function "succeeds" as soon as the coroutine object is created, so async failures never reach the breaker, and
its ``calling()`` context manager holds no gate across an ``await``, so every concurrent caller passes a
half-open breaker. Here admission and outcome recording are split around the ``await``:

* admit: refresh the state from storage (Redis, when shared); open and not yet due -> ``CircuitOpenError``;
  open and due -> half-open; half-open -> exactly one probe in flight, everyone else ``CircuitOpenError``.
* record: the outcome goes through pybreaker's own state objects (``_handle_error`` / ``_handle_success``), so
  exclusions, ``fail_max``, ``success_threshold``, storage and listeners behave exactly as in pybreaker.

Cancellation is neither success nor failure: it says nothing about the dependency.

``wait_admissible`` lets a caller that can afford it (a consumer handler, not an HTTP request) wait out an open
breaker, or a half-open one whose probe is in flight, instead of failing at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar

import pybreaker

from shared.resilience import metrics
from shared.resilience.errors import BusinessOutcome, CircuitOpenError, PermanentDependencyError

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

Exclusion = type[BaseException] | Callable[[BaseException], bool]


class BreakerState(StrEnum):
    CLOSED = pybreaker.STATE_CLOSED
    OPEN = pybreaker.STATE_OPEN
    HALF_OPEN = pybreaker.STATE_HALF_OPEN


@dataclass(frozen=True)
class BreakerPolicy:
    """When to open (``fail_max`` consecutive failures), how long to stay open, what never counts as failure."""

    fail_max: int = 5
    reset_timeout: float = 30.0
    success_threshold: int = 1
    # The dependency answered: a declined card or a 400 says nothing about its health.
    exclude: tuple[Exclusion, ...] = field(default=(BusinessOutcome, PermanentDependencyError))


class _Observer(pybreaker.CircuitBreakerListener):
    """Logs every state change and keeps the state gauge and transition counter current."""

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        name = cb.name or "unnamed"
        old = old_state.name if old_state is not None else "none"
        metrics.BREAKER_STATE.labels(name).set(metrics.STATE_VALUES[new_state.name])
        metrics.BREAKER_TRANSITIONS.labels(name, old, new_state.name).inc()
        level = logging.WARNING if new_state.name == pybreaker.STATE_OPEN else logging.INFO
        log.log(level, "circuit breaker %s: %s -> %s", name, old, new_state.name)


class _Signal(pybreaker.CircuitBreakerListener):
    """Wakes callers waiting in :meth:`CircuitBreaker.wait_admissible` on every state change."""

    def __init__(self, owner: CircuitBreaker) -> None:
        self._owner = owner

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        self._owner._signal()


# Upper bound of one wait for a state change: a Redis-shared breaker can change without a local event.
_MAX_WAIT_STEP = 1.0


class CircuitBreaker:
    """One breaker per dependency. ``await breaker.call(fn, *args)`` runs ``fn`` under the breaker's rules."""

    def __init__(
        self,
        name: str,
        policy: BreakerPolicy | None = None,
        *,
        storage: pybreaker.CircuitBreakerStorage | None = None,
        listeners: Iterable[pybreaker.CircuitBreakerListener] = (),
    ) -> None:
        self.name = name
        self.policy = policy or BreakerPolicy()
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=self.policy.fail_max,
            reset_timeout=self.policy.reset_timeout,
            success_threshold=self.policy.success_threshold,
            exclude=list(self.policy.exclude),
            listeners=[_Observer(), _Signal(self), *listeners],
            state_storage=storage,
            name=name,
            # The call that trips the breaker re-raises its own (more telling) error.
            throw_new_error_on_trip=False,
        )
        self._probe_in_flight = False
        # Futures of callers in wait_admissible, resolved on any state change or probe end. Made per wait
        # (not one Event made here) so a breaker built outside a loop works in whichever loop calls it.
        self._waiters: set[asyncio.Future[None]] = set()
        metrics.BREAKER_STATE.labels(name).set(metrics.STATE_VALUES[self._breaker.current_state])

    @property
    def state(self) -> BreakerState:
        """The current state, refreshed from storage (listeners hear of changes made by other instances)."""
        return BreakerState(self._breaker.state.name)

    @property
    def fail_counter(self) -> int:
        """Consecutive failures counted so far."""
        return self._breaker.fail_counter

    def add_listener(self, listener: pybreaker.CircuitBreakerListener) -> None:
        """Register a pybreaker listener (``state_change``, ``failure``, ``success``, ``before_call``)."""
        self._breaker.add_listener(listener)

    def remove_listener(self, listener: pybreaker.CircuitBreakerListener) -> None:
        """Unregister a listener added with :meth:`add_listener`."""
        self._breaker.remove_listener(listener)

    def seconds_until_half_open(self) -> float:
        """How long an open breaker still refuses calls (0 when due or not open)."""
        if self._breaker.state.name != pybreaker.STATE_OPEN:
            return 0.0
        opened_at = self._breaker._state_storage.opened_at
        if opened_at is None:
            return 0.0
        due = opened_at.timestamp() + self.policy.reset_timeout
        return max(0.0, due - datetime.now(UTC).timestamp())

    def try_half_open(self) -> bool:
        """Move an open breaker whose reset timeout elapsed to half-open (nobody may be calling to do it)."""
        if self._breaker.state.name == pybreaker.STATE_OPEN and self.seconds_until_half_open() <= 0:
            self._breaker.half_open()
        return self._breaker.state.name == pybreaker.STATE_HALF_OPEN

    def admissible(self) -> bool:
        """Would a call be admitted now (closed, due to half-open, or half-open with no probe in flight)?"""
        state = self._breaker.state.name
        if state == pybreaker.STATE_OPEN:
            return self.seconds_until_half_open() <= 0
        return not (state == pybreaker.STATE_HALF_OPEN and self._probe_in_flight)

    async def wait_admissible(self, timeout: float) -> float:
        """Wait up to ``timeout`` seconds until :meth:`admissible`; return the seconds waited.

        Admission is still decided by :meth:`call` (another waiter may take the probe first).
        """
        started = time.monotonic()
        deadline = started + timeout
        while not self.admissible():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            due = self.seconds_until_half_open()
            step = min(remaining, _MAX_WAIT_STEP, due if due > 0 else remaining)
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.add(waiter)
            try:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(step):
                        await waiter
            finally:
                self._waiters.discard(waiter)
        return time.monotonic() - started

    def _signal(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def open(self) -> None:
        """Force the breaker open (operator action, tests)."""
        self._breaker.open()

    def close(self) -> None:
        """Force the breaker closed (operator action, tests)."""
        self._breaker.close()

    async def call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn(*args, **kwargs)`` if the breaker admits it and record the outcome."""
        probe = self._admit(fn, *args, **kwargs)
        try:
            result = await fn(*args, **kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._record_failure(exc)
            raise
        else:
            self._record_success()
            return result
        finally:
            if probe:
                self._probe_in_flight = False
                self._signal()

    def _admit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        """Raise ``CircuitOpenError`` unless the call may go ahead; True when it is the half-open probe."""
        state = self._breaker.state.name
        if state == pybreaker.STATE_OPEN:
            remaining = self.seconds_until_half_open()
            if remaining > 0:
                metrics.CALLS.labels(self.name, "rejected_open").inc()
                raise CircuitOpenError(
                    self.name, f"circuit open for {remaining:.1f}s more", retry_after=remaining
                )
            self._breaker.half_open()
            state = self._breaker.state.name
        probe = False
        if state == pybreaker.STATE_HALF_OPEN:
            if self._probe_in_flight:
                metrics.CALLS.labels(self.name, "rejected_open").inc()
                raise CircuitOpenError(self.name, "circuit half-open and its probe is in flight")
            self._probe_in_flight = probe = True
        for listener in self._breaker.listeners:
            listener.before_call(self._breaker, fn, *args, **kwargs)
        return probe

    def _record_failure(self, exc: Exception) -> None:
        try:
            self._breaker.state._handle_error(exc, reraise=False)
        except Exception as raised:
            # pybreaker re-raises the error (or CircuitBreakerError) from the call that trips the breaker; the
            # caller re-raises the original itself.
            if raised is not exc and not isinstance(raised, pybreaker.CircuitBreakerError):
                raise

    def _record_success(self) -> None:
        self._breaker.state._handle_success()


def redis_storage(
    redis: Any, name: str, *, namespace: str = "warren", fallback_state: str = pybreaker.STATE_CLOSED
) -> pybreaker.CircuitRedisStorage:
    """Breaker state in Redis (a sync ``redis.Redis`` client), shared by every instance using ``namespace:name``.

    pybreaker stores ``opened_at`` in whole seconds, so a shared breaker may half-open up to 1 s early. Redis
    calls are synchronous and short (local Redis); if Redis is unreachable, ``fallback_state`` applies.
    """
    return pybreaker.CircuitRedisStorage(
        pybreaker.STATE_CLOSED,
        redis,
        namespace=f"{namespace}:{name}",
        fallback_circuit_state=fallback_state,
    )
