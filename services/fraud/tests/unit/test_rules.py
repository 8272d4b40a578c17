from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fraud.domain import rules as r
from shared.contracts.fraud import FraudDecision

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def facts(**overrides: object) -> r.PaymentFacts:
    values: dict[str, object] = {
        "payment_id": "p1",
        "customer_id": "c1",
        "email": "ann@example.com",
        "country": "NL",
        "amount": 10_00,
        "requested_at": NOW,
    }
    values.update(overrides)
    return r.PaymentFacts(**values)  # type: ignore[arg-type]


def test_payment_is_approved_with_score_zero_when_no_rule_fires() -> None:
    result = r.assess(facts(), r.FraudRules(), recent_payments=1)
    assert (result.decision, result.score, result.reasons) == (FraudDecision.APPROVED, 0, ())


@pytest.mark.parametrize(("amount", "decision"), [(999_999, "approved"), (1_000_000, "rejected")])
def test_payment_is_rejected_when_the_amount_reaches_the_limit(amount: int, decision: str) -> None:
    assert r.assess(facts(amount=amount), r.FraudRules(), recent_payments=1).decision == decision


def test_payment_is_rejected_when_the_email_domain_is_blocked_in_any_case() -> None:
    result = r.assess(facts(email="x@Blocked.Example"), r.FraudRules(), recent_payments=1)
    assert result.decision is FraudDecision.REJECTED
    assert result.reasons == (r.BLOCKED_EMAIL_DOMAIN,)
    assert result.score == 100


@pytest.mark.parametrize(("recent", "decision"), [(5, "approved"), (6, "review")])
def test_payment_goes_to_review_when_the_customer_paid_more_than_five_times(
    recent: int, decision: str
) -> None:
    assert r.assess(facts(), r.FraudRules(), recent_payments=recent).decision == decision


def test_payment_goes_to_review_when_the_country_is_on_the_review_list() -> None:
    result = r.assess(
        facts(country="XX"), r.FraudRules(review_countries=frozenset({"XX"})), recent_payments=1
    )
    assert (result.decision, result.reasons) == (FraudDecision.REVIEW, (r.REVIEW_COUNTRY,))


def test_rejection_wins_and_every_reason_is_kept_when_several_rules_fire() -> None:
    rules = r.FraudRules(review_countries=frozenset({"XX"}))
    result = r.assess(facts(country="XX", amount=2_000_000), rules, recent_payments=9)
    assert result.decision is FraudDecision.REJECTED
    assert result.reasons == (r.AMOUNT_LIMIT, r.VELOCITY, r.REVIEW_COUNTRY)
    assert result.score == 100


@pytest.mark.parametrize(
    ("score", "decision", "reason"),
    [(10, "approved", None), (75, "review", r.RISK_SCORE_ELEVATED), (95, "rejected", r.RISK_SCORE_HIGH)],
)
def test_external_score_raises_the_decision_when_it_is_high(
    score: int, decision: str, reason: str | None
) -> None:
    result = r.assess(facts(), r.FraudRules(), recent_payments=1, risk_score=score, risk_score_checked=True)
    assert result.decision == decision
    assert result.score == score
    assert result.reasons == ((reason,) if reason else ())


def test_rules_decide_alone_and_say_so_when_the_external_score_is_unavailable() -> None:
    result = r.assess(facts(), r.FraudRules(), recent_payments=1, risk_score=None, risk_score_checked=True)
    assert (result.decision, result.reasons) == (FraudDecision.APPROVED, (r.RISK_SCORE_UNAVAILABLE,))


def test_assessment_records_its_event_when_it_is_made() -> None:
    result = r.assess(facts(amount=1_000_000), r.FraudRules(), recent_payments=1)
    (event,) = result.events
    assert event.model_dump(mode="json") == {
        "payment_id": "p1",
        "decision": "rejected",
        "score": 100,
        "reasons": [r.AMOUNT_LIMIT],
    }
