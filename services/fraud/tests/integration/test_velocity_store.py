"""Velocity counts in fraud's own database: exact under concurrency, once per payment under redelivery."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fraud.adapters.unit_of_work import SqlFraudUnitOfWork
from fraud.domain.rules import FraudRules
from fraud.service_layer.handlers import assess_payment
from shared.contracts.payment import PaymentRequested

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


async def assess(sessions: async_sessionmaker[AsyncSession], event: PaymentRequested) -> list[str]:
    uow = SqlFraudUnitOfWork(sessions)
    await assess_payment(event, T0, uow, FraudRules())
    return [e.decision.value for e in uow.committed_events]  # type: ignore[attr-defined]


async def test_exactly_five_are_approved_when_twenty_payments_of_one_customer_arrive_at_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    results = await asyncio.gather(*(assess(sessions, requested(f"p{n}")) for n in range(20)))
    assert Counter(d for (d,) in results) == {"approved": 5, "review": 15}


async def test_a_payment_counts_once_and_is_answered_alike_when_it_is_delivered_many_times_at_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for n in range(4):
        await assess(sessions, requested(f"p{n}"))
    duplicates = await asyncio.gather(*(assess(sessions, requested("p4")) for _ in range(10)))
    assert {d for (d,) in duplicates} == {"approved"}
    assert await assess(sessions, requested("p5")) == ["review"]
