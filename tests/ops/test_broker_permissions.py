"""The least-privilege model, proved on the real broker: each service touches only what is its own."""

from __future__ import annotations

from typing import Any

import aio_pika
import pytest
from aiormq.exceptions import ChannelAccessRefused

from shared.messaging.envelope import Envelope

pytestmark = pytest.mark.integration


def _event(message_type: str, producer: str) -> aio_pika.Message:
    return Envelope(type=message_type, correlation_id="c-1", producer=producer, payload={"n": 1}).to_message()


async def test_service_publishes_and_consumes_its_own_when_permissions_are_applied(
    applied_model: Any,
) -> None:
    # payment's queue bound to fraud's events; fraud publishes, payment consumes.
    payment = await aio_pika.connect(applied_model.url("payment"))
    fraud = await aio_pika.connect(applied_model.url("fraud"))
    async with payment, fraud:
        payment_channel = await payment.channel()
        fraud_events = await payment_channel.declare_exchange("fraud.events", passive=True)
        queue = await payment_channel.declare_queue(
            "payment.on_fraud",
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": "payment.dead-letter",
                "x-dead-letter-routing-key": "payment.on_fraud.dlq",
            },
        )
        await queue.bind(fraud_events, "fraud.assessed")
        fraud_channel = await fraud.channel(publisher_confirms=True)
        exchange = await fraud_channel.get_exchange("fraud.events", ensure=False)
        await exchange.publish(
            _event("fraud.assessed.v1", "fraud"), routing_key="fraud.assessed", mandatory=True
        )
        message = await queue.get(timeout=5)
        assert message.type == "fraud.assessed.v1"
        await message.ack()


async def test_publish_is_refused_when_a_service_writes_to_another_services_exchange(
    applied_model: Any,
) -> None:
    payment = await aio_pika.connect(applied_model.url("payment"))
    async with payment:
        channel = await payment.channel(publisher_confirms=True)
        exchange = await channel.get_exchange("fraud.events", ensure=False)
        with pytest.raises(ChannelAccessRefused, match="fraud.events"):
            await exchange.publish(_event("fraud.assessed.v1", "payment"), routing_key="fraud.assessed")


async def test_consume_is_refused_when_a_service_reads_another_services_queue(applied_model: Any) -> None:
    fraud = await aio_pika.connect(applied_model.url("fraud"))
    payment = await aio_pika.connect(applied_model.url("payment"))
    async with fraud, payment:
        fraud_channel = await fraud.channel()
        await fraud_channel.declare_queue(
            "fraud.on_payment", durable=True, arguments={"x-queue-type": "quorum"}
        )
        channel = await payment.channel()
        queue = await channel.get_queue("fraud.on_payment", ensure=False)
        with pytest.raises(ChannelAccessRefused, match="fraud.on_payment"):
            await queue.get(fail=False)


async def test_declare_is_refused_when_a_service_configures_another_services_exchange(
    applied_model: Any,
) -> None:
    # Configure rights on a neighbour's exchange would also allow deleting it.
    payment = await aio_pika.connect(applied_model.url("payment"))
    async with payment:
        channel = await payment.channel()
        with pytest.raises(ChannelAccessRefused, match="inventory.events"):
            await channel.declare_exchange("inventory.events", aio_pika.ExchangeType.TOPIC, durable=True)


async def test_publish_is_refused_when_a_service_writes_through_the_default_exchange(
    applied_model: Any,
) -> None:
    # The default exchange reaches every queue by name; only the operator (dead-letter replay) may use it.
    inventory = await aio_pika.connect(applied_model.url("inventory"))
    async with inventory:
        channel = await inventory.channel(publisher_confirms=True)
        with pytest.raises(ChannelAccessRefused, match="amq.default"):
            await channel.default_exchange.publish(
                _event("payment.requested.v1", "inventory"), routing_key="fraud.x"
            )


async def test_binding_is_refused_when_a_service_subscribes_to_an_exchange_it_does_not_consume(
    applied_model: Any,
) -> None:
    fraud = await aio_pika.connect(applied_model.url("fraud"))
    async with fraud:
        channel = await fraud.channel()
        queue = await channel.declare_queue("fraud.snoop", durable=True, arguments={"x-queue-type": "quorum"})
        with pytest.raises(ChannelAccessRefused, match="inventory.events"):
            await queue.bind("inventory.events", "#")
