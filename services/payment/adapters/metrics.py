"""Payment's Prometheus metrics (served on /metrics by the platform's health router)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CHECKOUTS = Counter(
    "payment_checkouts_total",
    "POST /payments by result",
    ["result"],  # created | replayed | conflict
)
GATEWAY_CALLS = Counter(
    "payment_gateway_calls_total",
    "Card gateway calls by result",
    ["result"],  # approved | declined | unavailable
)
GATEWAY_SECONDS = Histogram(
    "payment_gateway_call_seconds",
    "Card gateway call latency (one HTTP call)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
VOIDS = Counter(
    "payment_voids_total",
    "Voids of failed payments' references at the card gateway, by result",
    ["result"],  # voided | nothing_charged | unavailable
)
