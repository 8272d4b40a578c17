"""One message of every type payment emits, built by the real domain code (read by the contract tools)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from payment.domain.model import ChargeApproved, ChargeDeclined, Checkout, Payment, ReviewDecision
from shared.contracts.base import Contract
from shared.contracts.fraud import FraudDecision
from shared.contracts.values import Customer, LineItem

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _payment(n: int) -> Payment:
    checkout = Checkout(
        order_id=f"order-{n}",
        customer=Customer(id="cust-1", email="ada@example.com", country="DE"),
        items=(LineItem(sku="sku-1", quantity=2, unit_amount=1250),),
        currency="EUR",
        token="tok_visa",
    )
    return Payment.request(
        f"pay-{n}", checkout, idempotency_key=f"key-{n}", now=NOW, time_to_deadline=timedelta(minutes=10)
    )


def examples() -> Iterable[Contract]:
    yield from _examples()


def _examples() -> Iterator[Contract]:
    captured = _payment(1)  # payment.requested, then payment.captured
    captured.record_fraud(FraudDecision.APPROVED, 5, (), now=NOW)
    captured.record_stock_reserved("res-1", now=NOW)
    captured.record_charge(ChargeApproved("ch_1"), now=NOW)
    yield from captured.events

    declined = _payment(2)
    declined.record_fraud(FraudDecision.APPROVED, 5, (), now=NOW)
    declined.record_stock_reserved("res-2", now=NOW)
    declined.record_charge(ChargeDeclined("insufficient_funds"), now=NOW)
    yield declined.events[-1]

    reviewed = _payment(3)  # payment.review_required, then payment.rejected in review
    reviewed.record_fraud(FraudDecision.REVIEW, 60, ("velocity",), now=NOW)
    reviewed.decide_review(ReviewDecision.REJECT, now=NOW)
    yield from reviewed.events[1:]

    cancelled = _payment(4)
    cancelled.record_stock_rejected("insufficient stock", ("sku-1",), now=NOW)
    yield cancelled.events[-1]

    failed = _payment(5)
    failed.record_fraud(FraudDecision.APPROVED, 5, (), now=NOW)
    failed.record_stock_reserved("res-5", now=NOW)
    failed.record_gateway_unavailable(
        "HTTP 503", now=NOW + timedelta(minutes=11), retry_in=timedelta(seconds=1)
    )
    yield failed.events[-1]
