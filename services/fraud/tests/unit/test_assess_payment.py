from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fraud.domain.rules import VELOCITY, FraudRules
from fraud.service_layer.handlers import assess_payment
from shared.contracts.payment import PaymentRequested

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def requested(payment_id: str, customer: str = "c1", amount: int = 10_00) -> PaymentRequested:
    return PaymentRequested.model_validate(
        {
            "payment_id": payment_id,
            "order_id": "o1",
            "customer": {"id": customer, "email": "ann@example.com", "country": "NL"},
            "items": [{"sku": "A", "quantity": 1, "unit_amount": amount}],
            "amount": amount,
            "currency": "EUR",
        }
    )


def decisions(uow: Any) -> list[str]:
    return [event.decision.value for event in uow.published]


async def test_sixth_payment_within_ten_minutes_goes_to_review_when_one_customer_pays_often(uow) -> None:
    for n in range(6):
        await assess_payment(requested(f"p{n}"), T0 + timedelta(minutes=n), uow, FraudRules())
    assert decisions(uow) == ["approved"] * 5 + ["review"]
    assert uow.published[-1].reasons == (VELOCITY,)


async def test_payments_outside_the_window_are_not_counted_when_they_are_older_than_ten_minutes(uow) -> None:
    for n in range(8):
        await assess_payment(requested(f"p{n}"), T0 + timedelta(minutes=3 * n), uow, FraudRules())
    assert decisions(uow) == ["approved"] * 8


async def test_sixth_payment_goes_to_review_when_requests_are_consumed_out_of_order(uow) -> None:
    for n in (5, 3, 4, 0, 2):
        await assess_payment(requested(f"p{n}"), T0 + timedelta(minutes=n), uow, FraudRules())
    await assess_payment(requested("p1"), T0 + timedelta(minutes=1), uow, FraudRules())
    assert decisions(uow) == ["approved"] * 5 + ["review"]


async def test_payments_further_apart_than_the_window_are_not_counted_when_consumed_late(uow) -> None:
    for n in range(5):
        await assess_payment(requested(f"late{n}"), T0 + timedelta(minutes=30 + n), uow, FraudRules())
    await assess_payment(requested("early"), T0, uow, FraudRules())
    assert decisions(uow) == ["approved"] * 6


async def test_other_customers_are_not_counted_when_one_customer_pays_often(uow) -> None:
    for n in range(6):
        await assess_payment(requested(f"p{n}", customer=f"c{n}"), T0, uow, FraudRules())
    assert decisions(uow) == ["approved"] * 6


async def test_a_redelivered_request_counts_once_and_gets_the_same_answer_when_it_comes_back(uow) -> None:
    for n in range(5):
        await assess_payment(requested(f"p{n}"), T0, uow, FraudRules())
    for _ in range(3):
        await assess_payment(requested("p4"), T0, uow, FraudRules())
    await assess_payment(requested("p5"), T0, uow, FraudRules())
    assert decisions(uow) == ["approved"] * 8 + ["review"]


async def test_the_external_score_decides_too_when_the_scorer_answers(uow, scorer_answering) -> None:
    await assess_payment(requested("p1"), T0, uow, FraudRules(), scorer_answering(95))
    assert decisions(uow) == ["rejected"]
    assert uow.published[0].score == 95


async def test_rules_decide_alone_when_the_scorer_is_down(uow, scorer_answering) -> None:
    await assess_payment(requested("p1"), T0, uow, FraudRules(), scorer_answering(None))
    assert decisions(uow) == ["approved"]
    assert uow.published[0].reasons == ("risk_score_unavailable",)
