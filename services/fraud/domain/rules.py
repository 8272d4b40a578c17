"""The fraud rules: a pure function from a payment's facts to a decision, a score and the reasons. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.contracts.base import Event
from shared.contracts.fraud import FraudAssessed, FraudDecision

# Reason codes, stable strings other services and operators can rely on.
AMOUNT_LIMIT = "amount_at_or_above_limit"
BLOCKED_EMAIL_DOMAIN = "email_domain_blocked"
VELOCITY = "customer_velocity_exceeded"
REVIEW_COUNTRY = "country_under_review"
RISK_SCORE_HIGH = "risk_score_high"
RISK_SCORE_ELEVATED = "risk_score_elevated"
RISK_SCORE_UNAVAILABLE = "risk_score_unavailable"

# What each rule adds to the score (capped at 100); the decision comes from which rules fired, not the sum.
_WEIGHTS = {AMOUNT_LIMIT: 100, BLOCKED_EMAIL_DOMAIN: 100, VELOCITY: 50, REVIEW_COUNTRY: 40}


@dataclass(frozen=True)
class FraudRules:
    reject_amount: int = 1_000_000
    blocked_email_domains: frozenset[str] = frozenset({"blocked.example"})
    review_countries: frozenset[str] = frozenset()
    velocity_limit: int = 5
    velocity_window_seconds: float = 600.0
    risk_review_score: int = 70
    risk_reject_score: int = 90


@dataclass(frozen=True)
class PaymentFacts:
    payment_id: str
    customer_id: str
    email: str
    country: str
    amount: int
    requested_at: datetime


@dataclass
class Assessment:
    """The decision on one payment: made once, then only ever repeated."""

    payment_id: str
    customer_id: str
    requested_at: datetime
    decision: FraudDecision
    score: int
    reasons: tuple[str, ...]
    events: list[Event] = field(default_factory=list, compare=False, repr=False)

    @property
    def id(self) -> str:
        return self.payment_id

    def announce(self) -> None:
        """Record the assessment as an event (again, when the same request comes back)."""
        self.events.append(
            FraudAssessed(
                payment_id=self.payment_id, decision=self.decision, score=self.score, reasons=self.reasons
            )
        )


def assess(
    facts: PaymentFacts,
    rules: FraudRules,
    *,
    recent_payments: int,
    risk_score: int | None = None,
    risk_score_checked: bool = False,
) -> Assessment:
    """Decide one payment.

    ``recent_payments`` counts this customer's payments inside the velocity window, this one included.
    ``risk_score`` is the external score when it answered; ``risk_score_checked`` says it was asked, so a
    missing score is reported as a reason (rules alone decided).
    """
    rejecting: list[str] = []
    reviewing: list[str] = []
    if facts.amount >= rules.reject_amount:
        rejecting.append(AMOUNT_LIMIT)
    if facts.email.rsplit("@", 1)[-1].lower() in rules.blocked_email_domains:
        rejecting.append(BLOCKED_EMAIL_DOMAIN)
    if recent_payments > rules.velocity_limit:
        reviewing.append(VELOCITY)
    if facts.country.upper() in rules.review_countries:
        reviewing.append(REVIEW_COUNTRY)

    score = min(100, sum(_WEIGHTS[reason] for reason in rejecting + reviewing))
    notes: list[str] = []
    if risk_score is not None:
        score = max(score, risk_score)
        if risk_score >= rules.risk_reject_score:
            rejecting.append(RISK_SCORE_HIGH)
        elif risk_score >= rules.risk_review_score:
            reviewing.append(RISK_SCORE_ELEVATED)
    elif risk_score_checked:
        notes.append(RISK_SCORE_UNAVAILABLE)

    if rejecting:
        decision = FraudDecision.REJECTED
    elif reviewing:
        decision = FraudDecision.REVIEW
    else:
        decision = FraudDecision.APPROVED
    assessment = Assessment(
        payment_id=facts.payment_id,
        customer_id=facts.customer_id,
        requested_at=facts.requested_at,
        decision=decision,
        score=score,
        reasons=tuple(rejecting + reviewing + notes),
    )
    assessment.announce()
    return assessment
