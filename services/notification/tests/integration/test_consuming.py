"""The consumer side: events through the broker (in memory and RabbitMQ) become stored notifications."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from notification.adapters.migrate import upgrade
from notification.adapters.orm import notifications
from notification.adapters.rendering import Renderer
from notification.adapters.unit_of_work import NotificationUnitOfWork
from notification.domain.decisions import Audience
from notification.entrypoints.consumers import EventHandlers, register
from notification.entrypoints.topology import TOPOLOGY
from notification.tests.factories import envelope_for, outcome
from notification.tests.harness import pending_tasks
from shared.contracts.inventory import StockLow
from shared.contracts.payment import PaymentReviewRequired
from shared.messaging.envelope import Envelope
from shared.persistence.engine import create_engine
from shared.testing.messaging_harness import MessagingHarness

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(upgrade, sqlite_url)
    engine = create_engine(sqlite_url)
    yield engine
    await engine.dispose()


async def _count(engine: AsyncEngine) -> list[tuple[str, str]]:
    async with engine.connect() as connection:
        query = select(notifications.c.template, notifications.c.recipient).order_by(notifications.c.template)
        return [(row.template, row.recipient) for row in await connection.execute(query)]


async def test_every_handled_event_becomes_one_notification_when_delivered_twice(
    messaging_harness: MessagingHarness, engine: AsyncEngine
) -> None:
    def uow_for(envelope: Envelope, handler: str) -> NotificationUnitOfWork:
        return NotificationUnitOfWork(engine).for_message(envelope, handler=handler)

    handlers = EventHandlers(uow_for, Audience(operator_email="ops@warren.test"), Renderer())
    register(messaging_harness, handlers)
    await messaging_harness.start(TOPOLOGY)

    captured = outcome("captured", email="ada@example.com")
    review = PaymentReviewRequired(
        payment_id="p-r",
        order_id="o-r",
        customer_id="c",
        customer_email="bob@example.com",
        amount=100,
        currency="EUR",
        score=70,
    )
    low = StockLow(sku="SKU-9", available=1, threshold=3)
    envelopes = [envelope_for(captured), envelope_for(review), envelope_for(low)]
    for envelope in envelopes + envelopes[:1]:  # the captured event is delivered twice
        await messaging_harness.publish(f"{envelope.producer}.events", envelope)
    await messaging_harness.settle()

    assert await _count(engine) == [
        ("inventory_stock_low", "ops@warren.test"),
        ("payment_captured", "ada@example.com"),
        ("payment_review_required", "ops@warren.test"),
    ]
    # One delivery task per notification waits in the outbox, none for the duplicate.
    tasks = await pending_tasks(engine)
    assert sorted(task for (task,) in tasks) == ["notification.deliver_email"] * 3
    for queue in TOPOLOGY.queues:
        assert await messaging_harness.dead_letters(queue) == []
    async with engine.connect() as connection:
        assert (await connection.execute(select(func.count()).select_from(notifications))).scalar_one() == 3
