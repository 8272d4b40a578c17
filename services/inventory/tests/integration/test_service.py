"""The inventory service in-process on the real broker and database: messages in, stock and events out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aio_pika
import httpx
import pytest

from inventory.adapters.migrate import upgrade
from inventory.config import InventorySettings
from inventory.entrypoints.main import build
from shared.contracts import envelope_for
from shared.contracts.payment import PaymentCaptured, PaymentRequested
from shared.messaging.connection import confirm_channel, connect
from shared.messaging.envelope import Envelope
from shared.messaging.publisher import Publisher
from shared.runtime.lifecycle import Lifecycle
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration


def requested(payment_id: str, quantity: int = 1) -> PaymentRequested:
    return PaymentRequested.model_validate(
        {
            "payment_id": payment_id,
            "order_id": f"order-{payment_id}",
            "customer": {"id": "c1", "email": "c@example.com", "country": "NL"},
            "items": [{"sku": "SKU-1", "quantity": quantity, "unit_amount": 100}],
            "amount": 100 * quantity,
            "currency": "EUR",
        }
    )


def captured(payment_id: str) -> PaymentCaptured:
    return PaymentCaptured(
        payment_id=payment_id,
        order_id=f"order-{payment_id}",
        customer_id="c1",
        customer_email="c@example.com",
        amount=100,
        currency="EUR",
        charge_id="ch_1",
    )


@dataclass
class Running:
    http: httpx.AsyncClient
    publisher: Publisher
    events: list[Envelope]

    async def publish(self, envelope: Envelope) -> None:
        await self.publisher.publish("payment.events", envelope)

    async def levels(self, sku: str) -> tuple[int, int, int]:
        body = (await self.http.get(f"/stock/{sku}")).json()
        return body["available"], body["reserved"], body["sold"]

    async def has_levels(self, sku: str, expected: tuple[int, int, int]) -> bool:
        return await self.levels(sku) == expected


@pytest.fixture
async def inventory(amqp_url: str, database_url: str) -> AsyncIterator[Running]:
    async with running_inventory(amqp_url, database_url) as running:
        yield running


@contextlib.asynccontextmanager
async def running_inventory(amqp_url: str, database_url: str, **options: Any) -> AsyncIterator[Running]:
    await asyncio.to_thread(upgrade, database_url)
    settings = InventorySettings(
        amqp_url=amqp_url, database_url=database_url, http_port=0, sweep_interval_seconds=0.1, **options
    )
    service = await build(settings)
    lifecycle = Lifecycle(service.components, stop_timeout=10)
    await lifecycle.start()
    connection = await connect(amqp_url, connection_name="inventory-test-probe")
    try:
        channel = await confirm_channel(connection)
        events: list[Envelope] = []
        probe = await channel.declare_queue("", exclusive=True)
        await probe.bind("inventory.events", "#")

        async def collect(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                events.append(Envelope.from_message(message))

        await probe.consume(collect)
        base_url = f"http://127.0.0.1:{service.http.port}"
        async with httpx.AsyncClient(base_url=base_url) as http:
            yield Running(http, Publisher(channel), events)
    finally:
        await connection.close()
        await lifecycle.stop()


async def test_stock_is_held_then_sold_when_request_and_capture_are_published(inventory: Running) -> None:
    await inventory.http.put("/stock/SKU-1", json={"available": 5})
    request = envelope_for(requested("p1", quantity=2))
    await inventory.publish(request)
    await inventory.publish(request)  # a redelivery: held once
    await wait_for(lambda: inventory.has_levels("SKU-1", (3, 2, 0)), timeout=10, message="basket held")
    await inventory.publish(envelope_for(captured("p1")))
    await wait_for(lambda: inventory.has_levels("SKU-1", (3, 0, 2)), timeout=10, message="basket sold")
    await wait_for(lambda: len(inventory.events) >= 2, timeout=10, message="events relayed")
    reserved, committed = inventory.events
    assert (reserved.type, committed.type) == ("inventory.reserved.v1", "inventory.committed.v1")
    # caused by the request: the saga's correlation id travels on
    assert reserved.correlation_id == request.correlation_id
    assert reserved.causation_id == str(request.message_id)
    assert reserved.payload["items"] == [{"sku": "SKU-1", "quantity": 2}]


async def test_shortage_is_announced_naming_the_sku_when_the_basket_does_not_fit(inventory: Running) -> None:
    await inventory.http.put("/stock/SKU-1", json={"available": 1})
    await inventory.publish(envelope_for(requested("p1", quantity=2)))
    (rejected,) = await wait_for(lambda: inventory.events, timeout=10, message="rejection relayed")
    assert rejected.type == "inventory.rejected.v1"
    assert rejected.payload["insufficient_skus"] == ["SKU-1"]
    assert await inventory.levels("SKU-1") == (1, 0, 0)


async def test_units_are_released_and_announced_when_the_reservation_expires(
    amqp_url: str, database_url: str
) -> None:
    async with running_inventory(amqp_url, database_url, reservation_ttl_seconds=0.5) as inventory:
        await inventory.http.put("/stock/SKU-1", json={"available": 3})
        await inventory.publish(envelope_for(requested("p1", quantity=3)))
        await wait_for(lambda: inventory.has_levels("SKU-1", (3, 0, 0)), timeout=10, message="expired")
        await wait_for(lambda: len(inventory.events) >= 2, timeout=10, message="release relayed")
        types = [event.type for event in inventory.events]
        assert types == ["inventory.reserved.v1", "inventory.released.v1"]
        assert inventory.events[1].payload["reason"] == "expired"
