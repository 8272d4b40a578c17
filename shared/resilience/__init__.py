"""Resilience for calls outside the service: retries, circuit breakers, timeouts, bulkheads, kill switch.

Build a :class:`Dependency` per downstream dependency in the entrypoint and wrap every gateway call in
``await dependency.call(fn, ..., idempotency_key=...)``; see docs/resilience.md.
"""

from shared.resilience.breaker import BreakerPolicy, BreakerState, CircuitBreaker, redis_storage
from shared.resilience.bulkhead import Bulkhead, BulkheadPolicy
from shared.resilience.dependency import Dependency
from shared.resilience.errors import (
    BulkheadFull,
    BusinessOutcome,
    CircuitOpenError,
    DependencyError,
    DependencyRejected,
    DependencyTimeout,
    PermanentDependencyError,
    TransientDependencyError,
)
from shared.resilience.idempotency import IDEMPOTENCY_HEADER, idempotency_headers, idempotency_key
from shared.resilience.kill_switch import KillSwitch, PausableConsumer
from shared.resilience.retry import NO_RETRY, RetryPolicy

__all__ = [
    "IDEMPOTENCY_HEADER",
    "NO_RETRY",
    "BreakerPolicy",
    "BreakerState",
    "Bulkhead",
    "BulkheadFull",
    "BulkheadPolicy",
    "BusinessOutcome",
    "CircuitBreaker",
    "CircuitOpenError",
    "Dependency",
    "DependencyError",
    "DependencyRejected",
    "DependencyTimeout",
    "KillSwitch",
    "PausableConsumer",
    "PermanentDependencyError",
    "RetryPolicy",
    "TransientDependencyError",
    "idempotency_headers",
    "idempotency_key",
    "redis_storage",
]
