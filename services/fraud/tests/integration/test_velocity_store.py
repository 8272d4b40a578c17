"""Velocity counts in fraud's own database: exact under concurrency, once per payment under redelivery."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from fraud.adapters.unit_of_work import SqlFraudUnitOfWork
from fraud.domain.rules import FraudRules
from fraud.service_layer.handlers import assess_payment
from shared.contracts import envelope_for
from shared.contracts.payment import PaymentRequested
from shared.persistence.unit_of_work import AlreadyHandled

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def requested(payment_id: str, customer: str = "c1") -> PaymentRequested:
    return PaymentRequested.model_validate(
        {
            "payment_id": payment_id,
            "order_id": "o1",
            "customer": {"id": customer, "email": "ann@example.com", "country": "NL"},
            "items": [{"sku": "A", "quantity": 1, "unit_amount": 500}],
            "amount": 500,
            "currency": "EUR",
        }
    )


async def assess(engine: AsyncEngine, event: PaymentRequested) -> None:
    await assess_payment(event, T0, SqlFraudUnitOfWork(engine), FraudRules())


async def test_exactly_five_are_approved_when_twenty_payments_of_one_customer_arrive_at_once(
    engine: AsyncEngine, outbox: Any
) -> None:
    await asyncio.gather(*(assess(engine, requested(f"p{n}")) for n in range(20)))
    decisions = Counter(event["decision"] for event in await outbox(engine))
    assert decisions == {"approved": 5, "review": 15}


async def test_a_payment_counts_once_and_is_answered_alike_when_it_is_sent_again_at_once(
    engine: AsyncEngine, outbox: Any
) -> None:
    for n in range(4):
        await assess(engine, requested(f"p{n}"))
    await asyncio.gather(*(assess(engine, requested("p4")) for _ in range(10)))
    await assess(engine, requested("p5"))
    events = await outbox(engine)
    assert [e["decision"] for e in events if e["payment_id"] == "p4"] == ["approved"] * 10
    assert events[-1] == {
        "payment_id": "p5",
        "decision": "review",
        "score": 50,
        "reasons": ["customer_velocity_exceeded"],
    }


async def test_a_redelivered_message_has_no_effect_when_its_inbox_mark_is_committed(
    engine: AsyncEngine, outbox: Any
) -> None:
    envelope = envelope_for(requested("p1"))

    async def deliver() -> bool:
        uow = SqlFraudUnitOfWork(engine).for_message(envelope, handler="fraud.on_payment_requested")
        try:
            await assess_payment(requested("p1"), T0, uow, FraudRules())
        except AlreadyHandled:
            return False
        return True

    results = await asyncio.gather(*(deliver() for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert len(await outbox(engine)) == 1
