"""Prometheus metrics of the consumer runtime, labelled by service and handler.

Defined once on the default registry (a service exposes it with ``prometheus_client``'s HTTP handler); tests
read them with ``REGISTRY.get_sample_value``.

The three series every message touches (consumed, acked, handler duration) are plain numbers on a
:class:`HandlerSeries`, exported by a collector at scrape time: a ``prometheus_client`` child costs a lock and
four Python calls per update, several times the rest of what the runtime does to acknowledge a message. Their
only writer is the event loop running the handler; a scrape from another thread reads numbers the GIL keeps
whole. The rare outcomes (retry, dead letter, failed settle) stay ordinary ``prometheus_client`` counters.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator

from prometheus_client import REGISTRY, Counter
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

_LABELS = ("service", "handler")
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, float("inf"))
_BUCKET_LABELS = tuple(floatToGoString(b) for b in DURATION_BUCKETS)  # type: ignore[no-untyped-call]

RETRIED = Counter("warren_messages_retried", "Messages moved to a retry tier", (*_LABELS, "tier"))
DEAD_LETTERED = Counter(
    "warren_messages_dead_lettered", "Messages moved to a dead-letter queue", (*_LABELS, "failure")
)
SETTLE_FAILED = Counter(
    "warren_messages_settle_failed",
    "Acks or republishes that failed (channel gone); the broker redelivers the message",
    _LABELS,
)


class HandlerSeries:
    """One handler's consumed and acked counts and handler-duration histogram."""

    __slots__ = ("acked", "buckets", "consumed", "created", "duration_sum")

    def __init__(self) -> None:
        self.consumed = 0
        self.acked = 0
        self.buckets = [0] * len(DURATION_BUCKETS)  # per bucket, not cumulative; the collector sums them
        self.duration_sum = 0.0
        self.created = time.time()

    def observe(self, seconds: float) -> None:
        """Count one handler run of ``seconds`` (successful or not)."""
        self.buckets[bisect_left(DURATION_BUCKETS, seconds)] += 1
        self.duration_sum += seconds


_SERIES: dict[tuple[str, str], HandlerSeries] = {}


def handler_series(service: str, handler: str) -> HandlerSeries:
    """The series of ``handler`` in ``service`` (created on first use, shared after that)."""
    key = (service, handler)
    series = _SERIES.get(key)
    if series is None:
        series = _SERIES[key] = HandlerSeries()
    return series


class _HandlerCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        consumed = CounterMetricFamily(
            "warren_messages_consumed", "Messages delivered to a handler", labels=_LABELS
        )
        acked = CounterMetricFamily(
            "warren_messages_acked", "Messages acknowledged after their handler finished", labels=_LABELS
        )
        duration = HistogramMetricFamily(
            "warren_handler_duration_seconds", "Time spent in a handler, successful or not", labels=_LABELS
        )
        for labels, series in list(_SERIES.items()):
            consumed.add_metric(labels, series.consumed, created=series.created)
            acked.add_metric(labels, series.acked, created=series.created)
            duration.add_metric(labels, _cumulative(series.buckets), series.duration_sum)
        yield consumed
        yield acked
        yield duration


def _cumulative(buckets: Iterable[int]) -> list[tuple[str, float]]:
    total = 0
    cumulative: list[tuple[str, float]] = []
    for bound, count in zip(_BUCKET_LABELS, buckets, strict=True):
        total += count
        cumulative.append((bound, total))
    return cumulative


REGISTRY.register(_HandlerCollector())
