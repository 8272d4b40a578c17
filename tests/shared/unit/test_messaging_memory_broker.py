"""The in-memory broker behaves like RabbitMQ where service tests rely on it."""

from __future__ import annotations

from typing import ClassVar

import aio_pika
import pytest

from shared.contracts.base import Event
from shared.messaging import headers as h
from shared.messaging.envelope import Envelope
from shared.messaging.errors import TopologyMismatch, UnroutableMessage
from shared.messaging.topology import Topology, handler_queue
from shared.testing.memory_broker import MemoryBroker, topic_matches


class TicketSold(Event):
    message_type: ClassVar[str] = "boxoffice.ticket_sold.v1"
    producer: ClassVar[str] = "boxoffice"

    seat: str


ON_SOLD = handler_queue("usher", "on_sold", [("boxoffice.events", "boxoffice.*")], retry_delays=(5, 60))
USHER = Topology("usher", publishes=False, queues=(ON_SOLD,))


def sold(seat: str = "A1") -> Envelope:
    return Envelope(
        type=TicketSold.message_type, correlation_id=seat, producer="boxoffice", payload={"seat": seat}
    )


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("payment.*", "payment.captured", True),
        ("payment.*", "payment.captured.late", False),
        ("payment.#", "payment.captured.late", True),
        ("payment.#", "payment", True),
        ("#", "anything.at.all", True),
        ("*.captured", "payment.captured", True),
        ("*.captured", "captured", False),
        ("payment.captured", "payment.declined", False),
        ("a.#.z", "a.b.c.z", True),
        ("a.#.z", "a.z", True),
    ],
)
def test_topic_matching_follows_amqp_when_pattern_has_wildcards(
    pattern: str, key: str, matches: bool
) -> None:
    assert topic_matches(pattern, key) is matches


async def test_publish_raises_unroutable_when_no_queue_is_bound() -> None:
    broker = MemoryBroker()
    broker.declare(Topology("boxoffice"))
    with pytest.raises(UnroutableMessage):
        await broker.publish("boxoffice.events", sold())


async def test_declare_raises_mismatch_when_queue_is_declared_with_other_arguments() -> None:
    broker = MemoryBroker()
    broker.declare(USHER)
    broker.declare(USHER)  # idempotent
    changed = handler_queue(
        "usher", "on_sold", [("boxoffice.events", "boxoffice.*")], retry_delays=(5, 60), delivery_limit=3
    )
    with pytest.raises(TopologyMismatch, match="x-delivery-limit"):
        broker.declare(Topology("usher", publishes=False, queues=(changed,)))


async def test_retry_tier_waits_on_the_virtual_clock_when_fast_forwarded_partly() -> None:
    broker = MemoryBroker()
    broker.declare(USHER)
    calls = 0

    async def flaky(message: TicketSold, envelope: Envelope) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("seat map offline")

    broker.register(ON_SOLD, flaky, accepts=[TicketSold])
    await broker.publish("boxoffice.events", sold())
    await broker.run_until_idle()
    assert calls == 1
    [parked] = broker.messages("usher.on_sold.retry.1.5s")
    assert parked.headers[h.ATTEMPTS] == 1
    assert await broker.fast_forward(4.9) == 0  # not yet
    assert await broker.fast_forward(0.1) == 1
    await broker.run_until_idle()
    assert calls == 2
    assert [e.payload for e in broker.handled] == [{"seat": "A1"}]
    assert broker.depth("usher.on_sold.retry.1.5s") == broker.depth("usher.on_sold") == 0


async def test_nack_with_requeue_dead_letters_when_delivery_limit_is_exceeded() -> None:
    queue = handler_queue("usher", "on_sold", [("boxoffice.events", "#")], delivery_limit=2)
    broker = MemoryBroker()
    broker.declare(Topology("usher", publishes=False, queues=(queue,)))
    await broker.publish("boxoffice.events", sold())
    for _ in range(3):
        delivery = broker.get("usher.on_sold")
        assert delivery is not None
        delivery.nack(requeue=True)  # a consumer crashed holding it
    assert broker.get("usher.on_sold") is None
    [dead] = broker.dead_letters(queue)
    assert dead.record.failure == "delivery-limit"
    assert dead.record.original_queue == "usher.on_sold"
    assert dead.record.original_routing_key == "boxoffice.ticket_sold"


async def test_reject_without_requeue_dead_letters_through_queue_dlx_when_rejected() -> None:
    broker = MemoryBroker()
    broker.declare(USHER)
    broker.publish_message(
        "boxoffice.events", "boxoffice.ticket_sold", aio_pika.Message(b"{}", message_id="m-1", type="x.y.v1")
    )
    delivery = broker.get("usher.on_sold")
    assert delivery is not None
    delivery.reject()
    [dead] = broker.dead_letters(ON_SOLD)
    assert dead.message_id == "m-1"
    assert dead.record.failure == "rejected"


async def test_ack_removes_message_for_good_when_handler_took_it() -> None:
    broker = MemoryBroker()
    broker.declare(USHER)
    await broker.publish("boxoffice.events", sold())
    delivery = broker.get("usher.on_sold")
    assert delivery is not None
    assert broker.depth("usher.on_sold") == 1  # unacked still counts
    delivery.ack()
    assert broker.depth("usher.on_sold") == 0


async def test_drain_ends_in_the_dlq_when_handler_always_fails() -> None:
    broker = MemoryBroker()
    broker.declare(USHER)
    broker.register(ON_SOLD, lambda m, e: _fail(), accepts=[TicketSold])
    await broker.publish("boxoffice.events", sold())
    await broker.drain()  # two tiers, then the DLQ: it ends
    [dead] = broker.dead_letters(ON_SOLD)
    assert dead.record.attempts == 3


async def _fail() -> None:
    raise ConnectionError("always")


async def test_same_ordering_key_lands_on_one_shard_in_order_when_queue_is_sharded() -> None:
    queue = handler_queue("usher", "seats", [("boxoffice.events", "#")], shards=3, retry_delays=())
    broker = MemoryBroker()
    broker.declare(Topology("boxoffice"))
    broker.declare(Topology("usher", publishes=False, queues=(queue,)))
    for n in range(30):
        envelope = sold(f"A{n}").model_copy(update={"ordering_key": f"row-{n % 5}"})
        await broker.publish("boxoffice.events", envelope)
    shards: dict[str, set[str]] = {}
    for shard in queue.source_queues:
        for message in broker.messages(shard):
            shards.setdefault(str((message.headers or {})[h.ORDERING_KEY]), set()).add(shard)
        seats = [int(Envelope.from_message(m).payload["seat"][1:]) for m in broker.messages(shard)]
        assert seats == sorted(seats)
    assert len(shards) == 5
    assert all(len(found) == 1 for found in shards.values())  # a key never spans two shards
