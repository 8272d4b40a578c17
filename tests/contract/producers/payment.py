"""payment's messages, built by its real Payment aggregate (stand-in until payment ships contract_examples.py).

Each scenario drives one payment through the saga the way the service layer does, and yields what it records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from payment.domain.model import ChargeApproved, ChargeDeclined, Checkout, Payment, ReviewDecision
from shared.contracts.base import Contract
from shared.contracts.fraud import FraudDecision
from shared.contracts.values import Customer, LineItem

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def requested(payment_id: str) -> Payment:
    checkout = Checkout(
        order_id=f"order-{payment_id}",
        customer=Customer(id="cust-1", email="ada@example.com", country="DE"),
        items=(LineItem(sku="sku-1", quantity=2, unit_amount=1250),),
        currency="EUR",
        token="tok_visa",
    )
    return Payment.request(
        payment_id, checkout, idempotency_key=payment_id, now=NOW, time_to_deadline=timedelta(minutes=5)
    )


def cleared(payment_id: str) -> Payment:
    payment = requested(payment_id)
    payment.record_fraud(FraudDecision.APPROVED, 0, (), now=NOW)
    payment.record_stock_reserved("res-1", now=NOW)
    return payment


def captured() -> Payment:
    payment = cleared("pay-captured")
    payment.record_charge(ChargeApproved("ch_1"), now=NOW)
    return payment


def declined() -> Payment:
    payment = cleared("pay-declined")
    payment.record_charge(ChargeDeclined("insufficient funds"), now=NOW)
    return payment


def rejected() -> Payment:
    payment = requested("pay-rejected")
    payment.record_fraud(FraudDecision.REJECTED, 100, ("email_domain_blocked",), now=NOW)
    return payment


def reviewed_then_rejected() -> Payment:
    payment = requested("pay-review")
    payment.record_fraud(FraudDecision.REVIEW, 50, ("customer_velocity_exceeded",), now=NOW)
    payment.decide_review(ReviewDecision.REJECT, now=NOW)
    return payment


def cancelled() -> Payment:
    payment = requested("pay-cancelled")
    payment.record_stock_rejected("insufficient stock", ("sku-1",), now=NOW)
    return payment


def failed() -> Payment:
    payment = cleared("pay-failed")
    payment.record_gateway_unavailable("gateway timed out", now=LATER, retry_in=timedelta(seconds=5))
    return payment


SCENARIOS: tuple[Callable[[], Payment], ...] = (
    captured,
    declined,
    rejected,
    reviewed_then_rejected,
    cancelled,
    failed,
)


def examples() -> Iterator[Contract]:
    """Every event of every scenario: requested, review required and each final outcome."""
    for scenario in SCENARIOS:
        yield from scenario().events
