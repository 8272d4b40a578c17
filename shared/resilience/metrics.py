"""Prometheus metrics of downstream calls: breaker state and transitions, calls by outcome, retries."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Numeric breaker state so a dashboard can graph it and alert on "> 0".
STATE_VALUES = {"closed": 0, "half-open": 1, "open": 2}

BREAKER_STATE = Gauge(
    "warren_dependency_breaker_state",
    "Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open",
    ["dependency"],
)
BREAKER_TRANSITIONS = Counter(
    "warren_dependency_breaker_transitions",
    "Circuit breaker state changes",
    ["dependency", "from_state", "to_state"],
)
CALLS = Counter(
    "warren_dependency_calls",
    "Attempts at calling a dependency, by outcome",
    ["dependency", "outcome"],
)
RETRIES = Counter(
    "warren_dependency_retries",
    "Attempts that were followed by another attempt (a retry)",
    ["dependency"],
)
CALL_SECONDS = Histogram(
    "warren_dependency_call_seconds",
    "Duration of one attempt at calling a dependency",
    ["dependency"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BULKHEAD_IN_FLIGHT = Gauge(
    "warren_dependency_in_flight",
    "Calls to a dependency holding a bulkhead slot right now",
    ["dependency"],
)
HANDLER_PAUSED = Gauge(
    "warren_handler_paused_by_breaker",
    "1 while a consumer handler is paused because a dependency's circuit breaker is open",
    ["handler"],
)
