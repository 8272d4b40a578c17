"""Fraud's Prometheus metrics (default registry, served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

ASSESSMENTS = Counter("fraud_assessments_total", "fraud.assessed events committed, by decision", ["decision"])
