"""Inventory's handlers on the in-memory broker: routing, decoding, dead-lettering, no database."""

from __future__ import annotations

import aio_pika

from inventory.entrypoints.consumers import register_handlers
from inventory.entrypoints.topology import TOPOLOGY
from shared.contracts import envelope_for
from shared.contracts.payment import PaymentCaptured, PaymentDeclined, PaymentRequested
from shared.messaging.topology import Topology
from shared.testing.memory_broker import MemoryBroker

REQUESTED = PaymentRequested.model_validate(
    {
        "payment_id": "pay-1",
        "order_id": "o1",
        "customer": {"id": "c1", "email": "c@example.com", "country": "NL"},
        "items": [{"sku": "A", "quantity": 2, "unit_amount": 100}],
        "amount": 200,
        "currency": "EUR",
    }
)
OUTCOME = {
    "payment_id": "pay-1",
    "order_id": "o1",
    "customer_id": "c1",
    "customer_email": "c@example.com",
    "amount": 200,
    "currency": "EUR",
}


def broker_for(uow, policy) -> MemoryBroker:
    broker = MemoryBroker()
    broker.declare(Topology(service="payment"))
    broker.declare(TOPOLOGY)
    register_handlers(broker, lambda envelope, queue: uow, policy)
    return broker


async def test_basket_is_reserved_then_sold_when_request_and_capture_arrive(uow, policy) -> None:
    await uow.stock.set_available("A", 5)
    broker = broker_for(uow, policy)
    await broker.publish("payment.events", envelope_for(REQUESTED))
    await broker.publish("payment.events", envelope_for(PaymentCaptured(**OUTCOME, charge_id="ch_1")))
    await broker.drain()
    level = await uow.stock.get("A")
    assert (level.available, level.reserved, level.sold) == (3, 0, 2)
    assert uow.types() == ["inventory.reserved.v1", "inventory.committed.v1"]


async def test_reservation_is_released_when_the_payment_is_declined(uow, policy) -> None:
    await uow.stock.set_available("A", 5)
    broker = broker_for(uow, policy)
    await broker.publish("payment.events", envelope_for(REQUESTED))
    await broker.publish("payment.events", envelope_for(PaymentDeclined(**OUTCOME, reason="card declined")))
    await broker.drain()
    level = await uow.stock.get("A")
    assert (level.available, level.reserved, level.sold) == (5, 0, 0)


async def test_request_is_dead_lettered_at_once_when_its_payload_breaks_the_contract(uow, policy) -> None:
    broker = broker_for(uow, policy)
    envelope = envelope_for(REQUESTED)
    broken = envelope.model_copy(update={"payload": {**envelope.payload, "items": [{"sku": "A"}]}})
    broker.publish_message("payment.events", "payment.requested", broken.to_message())
    await broker.drain()
    (dead,) = broker.dead_letters(TOPOLOGY.queue("on_payment_requested"))
    assert dead.record.failure == "permanent"
    assert uow.published == []


async def test_malformed_body_is_dead_lettered_when_it_is_not_json(uow, policy) -> None:
    broker = broker_for(uow, policy)
    message = aio_pika.Message(b"{nope", type="payment.requested.v1", message_id="m1")
    broker.publish_message("payment.events", "payment.requested", message)
    await broker.drain()
    assert len(broker.dead_letters(TOPOLOGY.queue("on_payment_requested"))) == 1
