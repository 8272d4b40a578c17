from datetime import timedelta

import pytest

from payment.domain.model import (
    ChargeApproved,
    ChargeDeclined,
    NotInReview,
    PaymentStatus,
    ReviewDecision,
)
from shared.contracts.fraud import FraudDecision
from shared.contracts.payment import (
    PaymentCancelled,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentRejected,
    PaymentRequested,
    PaymentReviewRequired,
)

from .factories import T0, checkout, payment

LEASE = timedelta(seconds=30)


def types(p) -> list[type]:  # type: ignore[no-untyped-def]
    return [type(e) for e in p.events]


def test_request_records_payment_requested_with_amount_when_created() -> None:
    p = payment()
    assert p.status is PaymentStatus.PENDING
    assert p.amount == 2500
    (event,) = p.events
    assert isinstance(event, PaymentRequested)
    assert event.amount == 2500
    assert event.items == checkout().items
    assert [s.name for s in p.history] == ["requested"]


@pytest.mark.parametrize("fraud_first", [True, False])
def test_payment_is_ready_to_charge_when_both_outcomes_arrive_in_either_order(fraud_first: bool) -> None:
    p = payment()
    steps = [
        lambda: p.record_fraud(FraudDecision.APPROVED, 10, (), now=T0),
        lambda: p.record_stock_reserved("res-1", now=T0),
    ]
    for step in steps if fraud_first else reversed(steps):
        assert not p.charge_due(T0)
        step()
    assert p.charge_due(T0)
    assert p.history[-1].name == "charge.ready"


def test_duplicate_outcomes_change_nothing_when_already_recorded() -> None:
    p = payment()
    p.record_fraud(FraudDecision.APPROVED, 10, (), now=T0)
    p.record_fraud(FraudDecision.REJECTED, 99, ("late",), now=T0)
    p.record_stock_reserved("res-1", now=T0)
    p.record_stock_reserved("res-2", now=T0)
    p.record_stock_rejected("insufficient stock", (), now=T0)
    assert p.fraud is FraudDecision.APPROVED
    assert p.reservation_id == "res-1"
    assert p.status is PaymentStatus.PENDING
    assert [s.name for s in p.history].count("charge.ready") == 1


def test_capture_records_payment_captured_once_when_the_gateway_approves_twice() -> None:
    p = payment()
    p.record_fraud(FraudDecision.APPROVED, 10, (), now=T0)
    p.record_stock_reserved("res-1", now=T0)
    assert p.claim_charge(now=T0, lease=LEASE)
    p.record_charge(ChargeApproved("ch_1"), now=T0)
    p.record_charge(ChargeApproved("ch_2"), now=T0)
    assert p.status is PaymentStatus.CAPTURED
    assert p.charge_id == "ch_1"
    assert types(p).count(PaymentCaptured) == 1
    captured = p.events[-1]
    assert isinstance(captured, PaymentCaptured)
    assert captured.charge_id == "ch_1"
    assert captured.customer_email == "ada@example.com"
    assert not p.claim_charge(now=T0 + LEASE, lease=LEASE)


def test_decline_carries_the_gateway_reason_when_the_card_is_declined() -> None:
    p = payment()
    p.record_stock_reserved("res-1", now=T0)
    p.record_fraud(FraudDecision.APPROVED, 10, (), now=T0)
    p.record_charge(ChargeDeclined("insufficient_funds"), now=T0)
    assert p.status is PaymentStatus.DECLINED
    assert p.reason == "insufficient_funds"
    assert isinstance(p.events[-1], PaymentDeclined)


def test_fraud_rejection_finishes_the_payment_when_stock_was_reserved_first() -> None:
    p = payment()
    p.record_stock_reserved("res-1", now=T0)
    p.record_fraud(FraudDecision.REJECTED, 95, ("amount",), now=T0)
    assert p.status is PaymentStatus.REJECTED
    assert p.reason == "fraud: amount"
    assert types(p)[-1] is PaymentRejected
    assert not p.awaiting_charge()


def test_out_of_stock_cancels_when_fraud_approved_first() -> None:
    p = payment()
    p.record_fraud(FraudDecision.APPROVED, 1, (), now=T0)
    p.record_stock_rejected("insufficient stock", ("sku-1",), now=T0)
    assert p.status is PaymentStatus.CANCELLED
    assert p.reason == "out of stock: insufficient stock (sku-1)"
    assert types(p)[-1] is PaymentCancelled


def test_out_of_stock_cancels_when_the_payment_waits_for_review() -> None:
    p = payment()
    p.record_fraud(FraudDecision.REVIEW, 50, ("country",), now=T0)
    assert p.status is PaymentStatus.REVIEW
    assert types(p)[-1] is PaymentReviewRequired
    p.record_stock_rejected("insufficient stock", (), now=T0)
    assert p.status is PaymentStatus.CANCELLED


def test_review_approval_makes_the_charge_due_when_stock_is_reserved() -> None:
    p = payment()
    p.record_fraud(FraudDecision.REVIEW, 50, ("velocity",), now=T0)
    p.record_stock_reserved("res-1", now=T0)
    assert not p.charge_due(T0)
    p.decide_review(ReviewDecision.APPROVE, now=T0)
    assert p.status is PaymentStatus.PENDING
    assert p.charge_due(T0)


def test_review_rejection_rejects_when_an_operator_says_so() -> None:
    p = payment()
    p.record_fraud(FraudDecision.REVIEW, 50, ("velocity",), now=T0)
    p.decide_review(ReviewDecision.REJECT, now=T0)
    assert p.status is PaymentStatus.REJECTED
    assert types(p)[-1] is PaymentRejected


def test_review_decision_raises_when_the_payment_is_not_in_review() -> None:
    p = payment()
    with pytest.raises(NotInReview):
        p.decide_review(ReviewDecision.APPROVE, now=T0)


def test_claim_is_exclusive_for_the_lease_when_a_charge_is_in_flight() -> None:
    p = payment()
    p.record_fraud(FraudDecision.APPROVED, 1, (), now=T0)
    p.record_stock_reserved("res-1", now=T0)
    assert p.claim_charge(now=T0, lease=LEASE)
    assert not p.claim_charge(now=T0 + timedelta(seconds=1), lease=LEASE)
    assert p.claim_charge(now=T0 + LEASE, lease=LEASE)
    assert p.charge_attempts == 2


def test_unavailable_gateway_schedules_a_retry_when_before_the_deadline() -> None:
    p = payment()
    p.record_fraud(FraudDecision.APPROVED, 1, (), now=T0)
    p.record_stock_reserved("res-1", now=T0)
    p.claim_charge(now=T0, lease=LEASE)
    p.record_gateway_unavailable("HTTP 500", now=T0, retry_in=timedelta(seconds=2))
    assert p.status is PaymentStatus.PENDING
    assert not p.charge_due(T0 + timedelta(seconds=1))
    assert p.charge_due(T0 + timedelta(seconds=2))
    assert not p.expire(now=T0 + timedelta(seconds=2))


def test_payment_fails_when_the_gateway_stays_unreachable_past_the_deadline() -> None:
    p = payment(deadline=timedelta(seconds=10))
    p.record_fraud(FraudDecision.APPROVED, 1, (), now=T0)
    p.record_stock_reserved("res-1", now=T0)
    p.claim_charge(now=T0, lease=LEASE)
    p.record_gateway_unavailable("timeout", now=T0, retry_in=timedelta(seconds=2))
    assert not p.expire(now=T0 + timedelta(seconds=5))
    assert p.expire(now=T0 + timedelta(seconds=10))
    assert p.status is PaymentStatus.FAILED
    assert types(p)[-1] is PaymentFailed
    p.record_charge(ChargeApproved("ch_late"), now=T0 + timedelta(seconds=11))
    assert p.status is PaymentStatus.FAILED


def test_expire_leaves_an_in_flight_charge_alone_when_its_lease_runs() -> None:
    p = payment(deadline=timedelta(seconds=10))
    p.record_fraud(FraudDecision.APPROVED, 1, (), now=T0)
    p.record_stock_reserved("res-1", now=T0)
    p.claim_charge(now=T0 + timedelta(seconds=9), lease=LEASE)
    assert not p.expire(now=T0 + timedelta(seconds=11))
    p.record_gateway_unavailable("timeout", now=T0 + timedelta(seconds=12), retry_in=timedelta(seconds=2))
    assert p.status is PaymentStatus.FAILED


def test_fingerprint_differs_when_the_body_differs() -> None:
    assert checkout().fingerprint() == checkout().fingerprint()
    assert checkout().fingerprint() != checkout(quantity=3).fingerprint()


def test_gateway_window_counts_from_the_review_decision_when_the_review_took_long() -> None:
    p = payment(deadline=timedelta(seconds=10))
    p.record_fraud(FraudDecision.REVIEW, 60, ("country",), now=T0)
    p.record_stock_reserved("res-1", now=T0)
    decided = T0 + timedelta(hours=1)
    p.decide_review(ReviewDecision.APPROVE, now=decided)
    p.claim_charge(now=decided, lease=LEASE)
    p.record_gateway_unavailable("HTTP 503", now=decided, retry_in=timedelta(seconds=1))
    assert p.status is PaymentStatus.PENDING
    assert p.deadline == decided + timedelta(seconds=10)
