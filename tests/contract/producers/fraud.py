"""fraud's messages, built by its real rules (stand-in until fraud ships entrypoints/contract_examples.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from fraud.domain.rules import FraudRules, PaymentFacts, assess
from shared.contracts.base import Contract

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RULES = FraudRules(review_countries=frozenset({"XX"}))


def facts(
    payment_id: str, *, email: str = "ada@example.com", country: str = "DE", amount: int = 2500
) -> PaymentFacts:
    return PaymentFacts(payment_id, "cust-1", email, country, amount, NOW)


def examples() -> Iterator[Contract]:
    """An approved, a review and a rejected assessment, and one decided without the risk score."""
    cases = [
        assess(facts("pay-approved"), RULES, recent_payments=1),
        assess(facts("pay-review", country="XX"), RULES, recent_payments=7),
        assess(
            facts("pay-rejected", email="eve@blocked.example", amount=2_000_000), RULES, recent_payments=1
        ),
        assess(facts("pay-unscored"), RULES, recent_payments=1, risk_score_checked=True),
        assess(facts("pay-risky"), RULES, recent_payments=1, risk_score=95),
    ]
    for assessment in cases:
        yield from assessment.events
