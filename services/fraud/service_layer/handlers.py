"""Fraud's handler: assess each requested payment once, count it once, announce the decision."""

from __future__ import annotations

from datetime import datetime, timedelta

from fraud.domain.rules import FraudRules, PaymentFacts, assess
from fraud.service_layer.ports import FraudUnitOfWork, RiskScorer
from shared.contracts.payment import PaymentRequested


def facts_of(event: PaymentRequested, requested_at: datetime) -> PaymentFacts:
    return PaymentFacts(
        payment_id=event.payment_id,
        customer_id=event.customer.id,
        email=event.customer.email,
        country=event.customer.country,
        amount=event.amount,
        requested_at=requested_at,
    )


async def assess_payment(
    event: PaymentRequested,
    requested_at: datetime,
    uow: FraudUnitOfWork,
    rules: FraudRules,
    risk: RiskScorer | None = None,
) -> None:
    """``requested_at`` is when payment recorded the request (the envelope's time), so a redelivery a
    minute later counts inside the same velocity window as the original."""
    facts = facts_of(event, requested_at)
    # Asked before the transaction opens: no database connection is held while a remote service thinks.
    risk_score = await risk.score(facts) if risk is not None else None
    async with uow:
        # Locked first: concurrent deliveries of this payment (or others of this customer) queue up here,
        # so each one sees what the previous committed.
        await uow.assessments.lock_customer(facts.customer_id)
        assessment = await uow.assessments.get(event.payment_id)
        if assessment is not None:
            assessment.announce()  # the same request again: the same answer, counted once
        else:
            # Payments already assessed within one window of this one, before or after it: requests of one
            # customer may be consumed out of order, and the n-th assessed inside ten minutes is the n-th.
            window = timedelta(seconds=rules.velocity_window_seconds)
            nearby = await uow.assessments.count_between(
                facts.customer_id, requested_at - window, requested_at + window
            )
            assessment = assess(
                facts,
                rules,
                recent_payments=nearby + 1,
                risk_score=risk_score,
                risk_score_checked=risk is not None,
            )
            uow.assessments.add(assessment)
        await uow.commit()
