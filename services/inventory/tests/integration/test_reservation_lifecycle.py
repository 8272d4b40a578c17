"""Reserve, commit, release, expire and reordering on the real databases, through the SQL adapters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.adapters.unit_of_work import SqlInventoryUnitOfWork
from inventory.entrypoints.sweeper import ExpirySweeper
from inventory.service_layer import handlers
from shared.contracts.payment import (
    PaymentCaptured,
    PaymentDeclined,
    PaymentRequested,
    PaymentReviewRequired,
)
from shared.outbox.schema import outbox_messages

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def requested(payment_id: str, **quantities: int) -> PaymentRequested:
    return PaymentRequested.model_validate(
        {
            "payment_id": payment_id,
            "order_id": "o1",
            "customer": {"id": "c1", "email": "c@example.com", "country": "NL"},
            "items": [{"sku": sku, "quantity": q, "unit_amount": 100} for sku, q in quantities.items()],
            "amount": 100,
            "currency": "EUR",
        }
    )


def outcome(cls: Any, payment_id: str) -> Any:
    extra = {"charge_id": "ch"} if cls is PaymentCaptured else {}
    return cls(
        payment_id=payment_id,
        order_id="o1",
        customer_id="c1",
        customer_email="c@example.com",
        amount=100,
        currency="EUR",
        **extra,
    )


class World:
    def __init__(self, engine: AsyncEngine, outbox: Any) -> None:
        self.engine = engine
        self.clock = Clock()
        self.policy = handlers.ReservationPolicy(
            ttl=timedelta(minutes=15), stock_low_threshold=0, clock=self.clock
        )
        self._outbox = outbox

    def uow(self) -> SqlInventoryUnitOfWork:
        return SqlInventoryUnitOfWork(self.engine)

    async def events(self) -> list[str]:
        return await self._outbox(self.engine)  # type: ignore[no-any-return]

    async def levels(self, sku: str) -> tuple[int, int, int]:
        level = await handlers.stock_level(sku, self.uow())
        return level.available, level.reserved, level.sold


@pytest.fixture
async def world(engine: AsyncEngine, outbox: Any) -> World:
    world = World(engine, outbox)
    await handlers.set_stock("A", 10, world.uow())
    await handlers.set_stock("B", 10, world.uow())
    return world


async def test_held_units_become_sold_once_when_the_capture_is_delivered_twice(world: World) -> None:
    await handlers.reserve_basket(requested("p1", A=2, B=1), world.uow(), world.policy)
    for _ in range(2):
        await handlers.commit_reservation(outcome(PaymentCaptured, "p1"), world.uow(), world.policy)
    assert await world.levels("A") == (8, 0, 2)
    assert await world.levels("B") == (9, 0, 1)
    assert await world.events() == ["inventory.reserved.v1", "inventory.committed.v1"]


async def test_held_units_return_once_when_the_payment_is_declined_twice(world: World) -> None:
    await handlers.reserve_basket(requested("p1", A=2), world.uow(), world.policy)
    for _ in range(2):
        await handlers.release_reservation(outcome(PaymentDeclined, "p1"), world.uow(), world.policy)
    assert await world.levels("A") == (10, 0, 0)
    assert await world.events() == ["inventory.reserved.v1", "inventory.released.v1"]


async def test_nothing_is_held_when_the_outcome_arrives_before_the_request(world: World) -> None:
    await handlers.release_reservation(outcome(PaymentDeclined, "p1"), world.uow(), world.policy)
    await handlers.reserve_basket(requested("p1", A=2), world.uow(), world.policy)
    assert await world.levels("A") == (10, 0, 0)
    assert await world.events() == []


async def test_nothing_is_held_and_the_short_sku_is_named_when_one_line_is_short(world: World) -> None:
    await handlers.reserve_basket(requested("p1", A=2, B=11), world.uow(), world.policy)
    assert await world.levels("A") == (10, 0, 0)
    assert await world.levels("B") == (10, 0, 0)
    async with world.engine.connect() as connection:
        payload = await connection.scalar(select(outbox_messages.c.payload))
    assert json.loads(payload)["insufficient_skus"] == ["B"]


async def test_the_sweeper_releases_only_due_reservations_when_their_time_is_up(world: World) -> None:
    await handlers.reserve_basket(requested("old", A=3), world.uow(), world.policy)
    world.clock.now += timedelta(minutes=10)
    await handlers.reserve_basket(requested("young", A=1), world.uow(), world.policy)
    world.clock.now += timedelta(minutes=6)
    sweeper = ExpirySweeper(world.uow, world.policy, interval=60, batch_size=1)
    assert await sweeper.sweep() == 1
    assert await sweeper.sweep() == 0
    assert await world.levels("A") == (9, 1, 0)
    assert (await world.events())[-1] == "inventory.released.v1"


async def test_units_stay_held_through_a_review_when_the_usual_ttl_passes(world: World) -> None:
    await handlers.reserve_basket(requested("p1", A=2), world.uow(), world.policy)
    review = PaymentReviewRequired(
        payment_id="p1",
        order_id="o1",
        customer_id="c1",
        customer_email="c@example.com",
        amount=100,
        currency="EUR",
        score=50,
    )
    await handlers.hold_for_review(review, world.uow(), world.policy)
    world.clock.now += timedelta(hours=1)
    sweeper = ExpirySweeper(world.uow, world.policy, interval=60, batch_size=10)
    assert await sweeper.sweep() == 0
    await handlers.commit_reservation(outcome(PaymentCaptured, "p1"), world.uow(), world.policy)
    assert await world.levels("A") == (8, 0, 2)
