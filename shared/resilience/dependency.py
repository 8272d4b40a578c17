"""One entry point for every call to something outside the service: bulkhead, breaker, retry, timeout.

Order, outermost first, for ``await dependency.call(fn, ...)``::

    retry (tenacity; attempts + total-time cap, Retry-After)
      bulkhead (a slot per attempt, so backoff sleeps hold none)
        circuit breaker (admits or refuses each attempt, records each outcome)
          timeout (per attempt, never past the retry budget)
            fn(*args, idempotency_key=key, **kwargs)

Why the breaker sits inside the retry loop: every attempt is evidence about the dependency, so an outage trips
the breaker after ``fail_max`` attempts rather than ``fail_max`` whole retry sequences; and once it is open the
retry loop stops at once (``CircuitOpenError`` is not retried) instead of sleeping and hammering. The bulkhead
sits outside the breaker because "no free slot" is our saturation, not the dependency's failure, and must not
count against (or, as a half-open probe, close) the breaker.

Fail fast or wait: with ``open_wait`` > 0 an attempt refused by an open breaker (or by a half-open one whose
probe is in flight) waits for the breaker to admit calls again, up to ``open_wait`` in all per call, uncharged
to the retry budget.
Consumer handlers use it together with the kill switch, so the few messages in flight when a dependency goes
down wait the outage out instead of being burnt through the retry tiers; request/response paths keep the
default 0 and fail fast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.resilience import metrics
from shared.resilience.breaker import BreakerPolicy, CircuitBreaker
from shared.resilience.bulkhead import Bulkhead, BulkheadPolicy
from shared.resilience.errors import (
    BusinessOutcome,
    CircuitOpenError,
    DependencyTimeout,
    PermanentDependencyError,
    TransientDependencyError,
)
from shared.resilience.retry import RetryPolicy

T = TypeVar("T")

# A timeout below this would fail before any network round trip could finish.
_MIN_ATTEMPT_TIMEOUT = 0.001


@dataclass
class _Budget:
    """One call's clock: the retry deadline moves back by the time spent waiting out an open breaker."""

    retry_until: float
    open_until: float
    waited: float = 0.0

    def deadline(self) -> float:
        return self.retry_until + self.waited


class Dependency:
    """A named downstream dependency with its own breaker, retry policy, per-attempt timeout and bulkhead.

    Build one per dependency in the service's entrypoint and hand it to the gateway adapter.
    """

    def __init__(
        self,
        name: str,
        *,
        breaker: CircuitBreaker | BreakerPolicy | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 5.0,
        bulkhead: Bulkhead | BulkheadPolicy | None = None,
        open_wait: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("every call needs a positive timeout")
        self.name = name
        self.breaker = breaker if isinstance(breaker, CircuitBreaker) else CircuitBreaker(name, breaker)
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.bulkhead = bulkhead if isinstance(bulkhead, Bulkhead) else Bulkhead(name, bulkhead)
        self.open_wait = open_wait
        self._sleep = sleep

    async def call(
        self, fn: Callable[..., Awaitable[T]], *args: Any, idempotency_key: str | None = None, **kwargs: Any
    ) -> T:
        """Await ``fn(*args, **kwargs)`` under the policies; ``idempotency_key`` is passed to ``fn`` as a keyword.

        Raises the last attempt's error when retries are exhausted, ``CircuitOpenError`` / ``BulkheadFull``
        when refused locally; a ``BusinessOutcome`` or permanent error is raised at once, never retried.
        """
        if idempotency_key is not None:
            kwargs["idempotency_key"] = idempotency_key
        started = time.monotonic()
        budget = _Budget(started + self.retry.total_seconds, started + self.open_wait)
        retrying = self.retry.retrying(self.name, sleep=self._sleep, excluded=lambda: budget.waited)
        async for attempt in retrying:
            with attempt:
                return await self._admitted_attempt(fn, args, kwargs, budget)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def _admitted_attempt(
        self, fn: Callable[..., Awaitable[T]], args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget
    ) -> T:
        while True:
            budget.waited += await self.breaker.wait_admissible(budget.open_until - time.monotonic())
            try:
                async with self.bulkhead.slot():
                    return await self.breaker.call(self._attempt, fn, args, kwargs, budget.deadline)
            except CircuitOpenError as refused:
                # Refused by our breaker at admission (another waiter took the probe): wait again if we may.
                if refused.dependency != self.breaker.name or time.monotonic() >= budget.open_until:
                    raise

    async def _attempt(
        self,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: Callable[[], float],
    ) -> T:
        timeout = max(_MIN_ATTEMPT_TIMEOUT, min(self.timeout, deadline() - time.monotonic()))
        started = time.monotonic()
        outcome = "error"
        try:
            async with asyncio.timeout(timeout):
                result = await fn(*args, **kwargs)
            outcome = "success"
            return result
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except TimeoutError as exc:
            outcome = "timeout"
            raise DependencyTimeout(self.name, f"no answer within {timeout:.3f}s") from exc
        except DependencyTimeout:
            outcome = "timeout"
            raise
        except BusinessOutcome:
            outcome = "business"
            raise
        except TransientDependencyError:
            outcome = "transient"
            raise
        except PermanentDependencyError:
            outcome = "permanent"
            raise
        except Exception as exc:
            outcome = "transient" if self.retry.should_retry(exc) else "error"
            raise
        finally:
            metrics.CALLS.labels(self.name, outcome).inc()
            metrics.CALL_SECONDS.labels(self.name).observe(time.monotonic() - started)
