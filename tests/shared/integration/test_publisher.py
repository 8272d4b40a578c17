import aio_pika
import pytest

from shared.messaging.connection import confirm_channel, connect
from shared.messaging.envelope import Envelope
from shared.messaging.errors import PublishError, UnroutableMessage
from shared.messaging.publisher import Publisher

pytestmark = pytest.mark.integration


def envelope() -> Envelope:
    return Envelope(type="payment.captured.v1", correlation_id="c", producer="payment", payload={"x": 1})


async def test_publish_is_confirmed_and_delivered_when_a_queue_is_bound(amqp_url: str) -> None:
    connection = await connect(amqp_url, connection_name="test-publisher")
    async with connection:
        channel = await confirm_channel(connection)
        exchange = await channel.declare_exchange("payment.events", aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue("probe", durable=True)
        await queue.bind(exchange, "payment.*")
        sent = envelope()
        await Publisher(channel).publish("payment.events", sent)
        received = await queue.get(timeout=5)
        assert Envelope.from_message(received) == sent
        await received.ack()


async def test_publish_raises_unroutable_when_no_queue_is_bound(amqp_url: str) -> None:
    connection = await connect(amqp_url, connection_name="test-publisher")
    async with connection:
        channel = await confirm_channel(connection)
        await channel.declare_exchange("payment.events", aio_pika.ExchangeType.TOPIC, durable=True)
        with pytest.raises(UnroutableMessage, match="returned"):
            await Publisher(channel).publish("payment.events", envelope())


async def test_publish_raises_when_exchange_does_not_exist(amqp_url: str) -> None:
    connection = await connect(amqp_url, connection_name="test-publisher")
    async with connection:
        channel = await confirm_channel(connection)
        with pytest.raises(PublishError):
            await Publisher(channel).publish("nowhere.events", envelope())
