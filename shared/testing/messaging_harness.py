"""One handler test, two brokers: the in-memory :class:`MemoryBroker` and the real RabbitMQ.

The ``messaging_harness`` fixture is parametrised: each test using it runs once in memory (fast, no network)
and once against RabbitMQ in a fresh vhost (marked ``integration``). Both sides expose the same small API::

    async def test_assessment_is_dead_lettered_when_payload_is_invalid(messaging_harness):
        messaging_harness.register(TOPOLOGY.queue("on_payment_requested"), assess, accepts=[PaymentRequested])
        await messaging_harness.start(TOPOLOGY)
        await messaging_harness.publish("payment.events", envelope)
        await messaging_harness.settle()       # handled, retried (tiers fast-forwarded) or dead-lettered
        [dead] = await messaging_harness.dead_letters(TOPOLOGY.queue("on_payment_requested"))
        assert dead.record.failure == "permanent"

Load it with ``pytest_plugins = ["shared.testing.messaging_harness"]`` (the repository's conftest does).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Iterable

import aio_pika
import pytest
from aio_pika.abc import AbstractMessage, AbstractRobustConnection

from shared.contracts.base import Contract
from shared.messaging.connection import connect
from shared.messaging.consumer import Consumer, copy_with_headers
from shared.messaging.dispatch import Handler
from shared.messaging.envelope import Envelope
from shared.messaging.failure import describe_dead_letter
from shared.messaging.publisher import Publisher
from shared.messaging.topology import HandlerQueue, Topology
from shared.testing.memory_broker import DeadLettered, MemoryBroker
from shared.testing.waiting import wait_for


class MessagingHarness(abc.ABC):
    """What a handler test needs from a broker, whichever broker it is."""

    kind: str

    def __init__(self) -> None:
        self._routes: list[tuple[HandlerQueue, Handler, tuple[type[Contract], ...]]] = []

    def register(self, queue: HandlerQueue, handler: Handler, accepts: Iterable[type[Contract]]) -> None:
        """Handle ``queue`` with ``handler`` once started."""
        self._routes.append((queue, handler, tuple(accepts)))

    @abc.abstractmethod
    async def start(self, *topologies: Topology) -> None:
        """Declare the topologies and start the registered handlers."""

    @abc.abstractmethod
    async def publish(self, exchange: str, envelope: Envelope, *, routing_key: str | None = None) -> None:
        """Publish like :class:`~shared.messaging.publisher.Publisher` (confirmed, mandatory)."""

    @abc.abstractmethod
    async def publish_raw(self, exchange: str, routing_key: str, message: aio_pika.Message) -> None:
        """Publish an arbitrary AMQP message (a malformed body, a missing property)."""

    @abc.abstractmethod
    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until every message is acked or dead-lettered, fast-forwarding the retry tiers."""

    @abc.abstractmethod
    async def dead_letters(self, queue: HandlerQueue) -> list[DeadLettered]:
        """Every message dead-lettered so far for ``queue``, with why."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and stop consumers."""


class MemoryHarness(MessagingHarness):
    kind = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.broker = MemoryBroker()

    async def start(self, *topologies: Topology) -> None:
        for topology in topologies:
            self.broker.declare(topology)
        for queue, handler, accepts in self._routes:
            self.broker.register(queue, handler, accepts)

    async def publish(self, exchange: str, envelope: Envelope, *, routing_key: str | None = None) -> None:
        await self.broker.publish(exchange, envelope, routing_key=routing_key)

    async def publish_raw(self, exchange: str, routing_key: str, message: aio_pika.Message) -> None:
        self.broker.publish_message(exchange, routing_key, message)

    async def settle(self, timeout: float = 15.0) -> None:
        await self.broker.drain()

    async def dead_letters(self, queue: HandlerQueue) -> list[DeadLettered]:
        return self.broker.dead_letters(queue)

    async def close(self) -> None:
        return None


class RabbitHarness(MessagingHarness):
    kind = "rabbitmq"

    def __init__(self, amqp_url: str) -> None:
        super().__init__()
        self._url = amqp_url
        self._connection: AbstractRobustConnection | None = None
        self._consumers: list[Consumer] = []
        self._publisher: Publisher | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None
        self._topologies: list[Topology] = []
        self._dead: dict[str, list[DeadLettered]] = {}

    async def start(self, *topologies: Topology) -> None:
        self._connection = await connect(self._url, connection_name="messaging-harness")
        self._topologies = list(topologies)
        for topology in topologies:
            consumer = Consumer(self._connection, topology)
            for queue, handler, accepts in self._routes:
                if queue.service == topology.service:
                    consumer.register(queue, handler, accepts)
            self._consumers.append(consumer)
        for consumer in self._consumers:
            await consumer.start()
        self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        self._publisher = Publisher(self._channel)

    async def publish(self, exchange: str, envelope: Envelope, *, routing_key: str | None = None) -> None:
        assert self._publisher is not None, "start() first"
        await self._publisher.publish(exchange, envelope, routing_key=routing_key)

    async def publish_raw(self, exchange: str, routing_key: str, message: aio_pika.Message) -> None:
        assert self._channel is not None, "start() first"
        target = await self._channel.get_exchange(exchange, ensure=False)
        await target.publish(message, routing_key=routing_key, mandatory=True)

    def _queues(self) -> tuple[list[tuple[str, str, str]], list[str]]:
        sources: list[tuple[str, str, str]] = []  # (retry tier, the source queue it feeds, service)
        all_sources: list[str] = []
        for topology in self._topologies:
            for queue in topology.queues:
                for source in queue.source_queues:
                    all_sources.append(source)
                    sources.extend(
                        (queue.retry_queue_name(tier, source), source, queue.service)
                        for tier in range(len(queue.retry_delays))
                    )
        return sources, all_sources

    async def _count(self, channel: aio_pika.abc.AbstractChannel, name: str) -> int:
        declared = await channel.declare_queue(name, passive=True)
        assert declared.declaration_result.message_count is not None
        return declared.declaration_result.message_count

    async def settle(self, timeout: float = 15.0) -> None:
        assert self._connection is not None, "start() first"
        tiers, sources = self._queues()
        channel = await self._connection.channel(publisher_confirms=True)
        quiet_polls = 0
        retry_exchanges = {
            t.service: await channel.get_exchange(t.retry_exchange) for t in self._topologies if t.queues
        }

        async def quiet() -> bool:
            nonlocal quiet_polls
            moved = 0
            for tier, source, service in tiers:
                retry = retry_exchanges[service]
                # Fast-forward: take parked messages out of the tier now instead of waiting for its TTL.
                queue = await channel.declare_queue(tier, passive=True)
                while (message := await queue.get(fail=False)) is not None:
                    await retry.publish(_copy(message), routing_key=source)
                    await message.ack()
                    moved += 1
            busy = moved + sum(c.in_flight() for c in self._consumers)
            for source in sources:
                busy += await self._count(channel, source)
            # A delivery on its way to the client is in no count, so ask for a few quiet polls in a row.
            quiet_polls = 0 if busy else quiet_polls + 1
            return quiet_polls >= 3

        try:
            # wait_for's overloads make mypy infer Never for an async bool condition.
            await wait_for(quiet, timeout=timeout, interval=0.05, message="all messages settled")  # type: ignore[arg-type]
        finally:
            await channel.close()

    async def dead_letters(self, queue: HandlerQueue) -> list[DeadLettered]:
        assert self._connection is not None, "start() first"
        found = self._dead.setdefault(queue.dlq_name, [])
        channel = await self._connection.channel()
        try:
            dlq = await channel.declare_queue(queue.dlq_name, passive=True)
            while (message := await dlq.get(fail=False)) is not None:
                found.append(DeadLettered(message, describe_dead_letter(dict(message.headers or {}))))
                await message.ack()
        finally:
            await channel.close()
        return list(found)

    async def close(self) -> None:
        for consumer in self._consumers:
            await consumer.stop(grace_seconds=5)
        if self._connection is not None:
            await self._connection.close()


def _copy(message: AbstractMessage) -> aio_pika.Message:
    return copy_with_headers(message, dict(message.headers or {}))


@pytest.fixture(params=["memory", pytest.param("rabbitmq", marks=pytest.mark.integration)])
def messaging_broker_url(request: pytest.FixtureRequest) -> str | None:
    """None for the in-memory broker, else the AMQP URL of a fresh vhost (sync: async fixtures nest badly)."""
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("amqp_url")
    return url


@pytest.fixture
async def messaging_harness(messaging_broker_url: str | None) -> AsyncIterator[MessagingHarness]:
    """A :class:`MessagingHarness`: once in memory, once on RabbitMQ in a fresh vhost."""
    harness: MessagingHarness
    harness = MemoryHarness() if messaging_broker_url is None else RabbitHarness(messaging_broker_url)
    try:
        yield harness
    finally:
        await harness.close()


__all__ = ["MemoryHarness", "MessagingHarness", "RabbitHarness", "messaging_broker_url", "messaging_harness"]
