"""One message of every type fraud emits, built by its real domain code (read by the contract tools)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from fraud.domain.rules import FraudRules, PaymentFacts, assess
from shared.contracts.base import Contract

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def examples() -> Iterable[Contract]:
    rules = FraudRules(review_countries=frozenset({"XX"}))
    approved = PaymentFacts("pay-1", "cust-1", "ada@example.com", "DE", 2500, NOW)
    review = PaymentFacts("pay-2", "cust-1", "ada@example.com", "XX", 2500, NOW)
    rejected = PaymentFacts("pay-3", "cust-2", "eve@blocked.example", "DE", 1_000_000, NOW)
    yield from assess(approved, rules, recent_payments=1, risk_score=12, risk_score_checked=True).events
    yield from assess(review, rules, recent_payments=6).events
    yield from assess(rejected, rules, recent_payments=1).events
