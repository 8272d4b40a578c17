"""Fraud's handler on the in-memory broker: routing, decoding, dead-lettering, no database."""

from __future__ import annotations

from fraud.domain.rules import FraudRules
from fraud.entrypoints.consumers import register_handlers
from fraud.entrypoints.topology import TOPOLOGY
from shared.contracts import envelope_for
from shared.contracts.payment import PaymentRequested
from shared.messaging.topology import Topology
from shared.testing.memory_broker import MemoryBroker


def requested(payment_id: str, email: str = "ann@example.com") -> PaymentRequested:
    return PaymentRequested.model_validate(
        {
            "payment_id": payment_id,
            "order_id": "o1",
            "customer": {"id": "c1", "email": email, "country": "NL"},
            "items": [{"sku": "A", "quantity": 1, "unit_amount": 500}],
            "amount": 500,
            "currency": "EUR",
        }
    )


def broker_for(uow) -> MemoryBroker:
    broker = MemoryBroker()
    broker.declare(Topology(service="payment"))
    broker.declare(TOPOLOGY)
    register_handlers(broker, lambda envelope, queue: uow, FraudRules())
    return broker


async def test_each_request_is_assessed_when_it_arrives(uow) -> None:
    broker = broker_for(uow)
    await broker.publish("payment.events", envelope_for(requested("p1")))
    await broker.publish("payment.events", envelope_for(requested("p2", email="x@blocked.example")))
    await broker.drain()
    assert [(e.payment_id, e.decision.value) for e in uow.published] == [
        ("p1", "approved"),
        ("p2", "rejected"),
    ]


async def test_a_redelivered_request_is_counted_once_when_it_arrives_twice(uow) -> None:
    broker = broker_for(uow)
    envelope = envelope_for(requested("p1"))
    for _ in range(6):
        await broker.publish("payment.events", envelope)
    await broker.publish("payment.events", envelope_for(requested("p2")))
    await broker.drain()
    assert [e.decision.value for e in uow.published] == ["approved"] * 7


async def test_request_is_dead_lettered_when_the_customer_is_missing(uow) -> None:
    broker = broker_for(uow)
    envelope = envelope_for(requested("p1"))
    broken = envelope.model_copy(
        update={"payload": {k: v for k, v in envelope.payload.items() if k != "customer"}}
    )
    broker.publish_message("payment.events", "payment.requested", broken.to_message())
    await broker.drain()
    (dead,) = broker.dead_letters(TOPOLOGY.queue("on_payment_requested"))
    assert "customer" in dead.record.reason
    assert uow.published == []
