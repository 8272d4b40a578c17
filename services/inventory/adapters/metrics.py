"""Inventory's Prometheus metrics (default registry, served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

EVENTS = Counter(
    "inventory_events_total",
    "Events inventory committed to its outbox, by message type (reserved, rejected, committed, ...)",
    ["message_type"],
)
