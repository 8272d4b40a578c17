"""Prometheus metrics of the outbox and its relay (default registry, served by the service's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.outbox.schema import RowKind

PENDING_ROWS = Gauge("warren_outbox_pending_rows", "Outbox rows committed but not yet published")
OLDEST_PENDING_AGE = Gauge(
    "warren_outbox_oldest_pending_age_seconds", "Age of the oldest pending outbox row (0 when none)"
)
FAILED_ROWS = Gauge("warren_outbox_failed_rows", "Outbox rows marked failed, waiting for an operator")
PUBLISHED = Counter("warren_outbox_published", "Outbox rows published and confirmed by the broker", ["kind"])
# The relay counts every batch: the labelled child once per kind, not a labels() lookup per batch.
PUBLISHED_BY_KIND = {kind.value: PUBLISHED.labels(kind=kind.value) for kind in RowKind}
FAILED = Counter("warren_outbox_failed", "Outbox rows marked permanently failed, by reason", ["reason"])
PUBLISH_ERRORS = Counter(
    "warren_outbox_publish_errors",
    "Transient publish failures (broker down, nack, timeout); rows stay pending",
)
RELAY_LAG = Histogram(
    "warren_outbox_relay_lag_seconds",
    "From a row's commit to its broker confirm",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
SWEPT = Counter("warren_outbox_swept", "Sent outbox rows deleted by retention")
