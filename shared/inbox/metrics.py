"""Prometheus metrics of the inbox (default registry)."""

from __future__ import annotations

from prometheus_client import Counter

DUPLICATES_ABSORBED = Counter(
    "warren_inbox_duplicates_absorbed",
    "Messages acked without effect because their handler had already handled them",
    ["handler"],
)
SWEPT = Counter("warren_inbox_swept", "Inbox marks deleted by retention")
