"""Prometheus metrics of the consumer runtime, labelled by service and handler.

Defined once on the default registry (a service exposes it with ``prometheus_client``'s HTTP handler); tests
read them with ``REGISTRY.get_sample_value``.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_LABELS = ("service", "handler")

CONSUMED = Counter("warren_messages_consumed", "Messages delivered to a handler", _LABELS)
ACKED = Counter("warren_messages_acked", "Messages acknowledged after their handler finished", _LABELS)
RETRIED = Counter("warren_messages_retried", "Messages moved to a retry tier", (*_LABELS, "tier"))
DEAD_LETTERED = Counter(
    "warren_messages_dead_lettered", "Messages moved to a dead-letter queue", (*_LABELS, "failure")
)
SETTLE_FAILED = Counter(
    "warren_messages_settle_failed",
    "Acks or republishes that failed (channel gone); the broker redelivers the message",
    _LABELS,
)
HANDLER_DURATION = Histogram(
    "warren_handler_duration_seconds",
    "Time spent in a handler, successful or not",
    _LABELS,
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
