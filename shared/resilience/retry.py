"""Retry policies on tenacity: capped, jittered exponential backoff for transient errors only.

A policy bounds both the number of attempts and the total time: no retry is started (and no backoff slept)
that would end past ``total_seconds`` from the first attempt. A server's ``Retry-After`` replaces the backoff
for that wait; when it points past the budget the call gives up at once with the transient error, which keeps
its ``retry_after`` so the message-level retry can honour it instead.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import tenacity

from shared.resilience import metrics
from shared.resilience.errors import DependencyRejected, TransientDependencyError

log = logging.getLogger(__name__)


class _StopBeforeBudget(tenacity.stop.stop_base):
    """Stop when the next attempt would start past ``total`` seconds, not counting time ``excluded()``."""

    def __init__(self, total: float, excluded: Callable[[], float]) -> None:
        self.total = total
        self.excluded = excluded

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        spent = (retry_state.seconds_since_start or 0.0) - self.excluded()
        return spent + retry_state.upcoming_sleep >= self.total


def is_retryable(exc: BaseException) -> bool:
    """Transient errors are retried; local rejections (breaker open, bulkhead full) and the rest are not."""
    return isinstance(exc, TransientDependencyError) and not isinstance(exc, DependencyRejected)


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``attempts`` tries within ``total_seconds``; backoff ``initial_backoff * 2**n`` capped, full jitter."""

    attempts: int = 3
    total_seconds: float = 10.0
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    # Adapter-specific error types to treat as transient too (an adapter that predates the typed errors).
    retry_on: tuple[type[BaseException], ...] = ()

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.total_seconds <= 0 or self.initial_backoff < 0 or self.max_backoff < self.initial_backoff:
            raise ValueError("need total_seconds > 0 and 0 <= initial_backoff <= max_backoff")

    def should_retry(self, exc: BaseException) -> bool:
        """Retry transient errors (and ``retry_on`` types), never local rejections."""
        if isinstance(exc, DependencyRejected):
            return False
        return is_retryable(exc) or isinstance(exc, self.retry_on)

    def backoff(self, retry_number: int) -> float:
        """Full-jitter backoff before retry ``retry_number`` (1-based): uniform in [0, capped exponential]."""
        ceiling = min(self.max_backoff, self.initial_backoff * 2 ** (retry_number - 1))
        return random.uniform(0, ceiling)

    def wait(self, state: tenacity.RetryCallState) -> float:
        """Seconds to wait before the next attempt: the server's ``Retry-After`` if it gave one, else backoff."""
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after >= 0:
            return float(retry_after)
        return self.backoff(state.attempt_number)

    def retrying(
        self,
        dependency: str,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        excluded: Callable[[], float] = lambda: 0.0,
    ) -> tenacity.AsyncRetrying:
        """A tenacity ``AsyncRetrying`` for calls to ``dependency``.

        ``sleep`` is replaceable in unit tests; ``excluded()`` is time not charged to the budget (waiting out
        an open breaker).
        """

        def before_sleep(state: tenacity.RetryCallState) -> None:
            metrics.RETRIES.labels(dependency).inc()
            outcome = state.outcome
            log.info(
                "retrying %s in %.2fs (attempt %d failed: %r)",
                dependency,
                state.upcoming_sleep,
                state.attempt_number,
                outcome.exception() if outcome is not None else None,
            )

        extra = {"sleep": sleep} if sleep is not None else {}
        return tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.attempts) | _StopBeforeBudget(self.total_seconds, excluded),
            wait=self.wait,
            retry=tenacity.retry_if_exception(self.should_retry),
            before_sleep=before_sleep,
            reraise=True,
            **extra,  # type: ignore[arg-type]
        )


NO_RETRY = RetryPolicy(attempts=1, total_seconds=3600.0, initial_backoff=0.0, max_backoff=0.0)
