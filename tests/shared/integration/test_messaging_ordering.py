"""Per-key ordering with several consumers: single active consumer, and consistent-hash shards."""

from __future__ import annotations

from typing import ClassVar

import pytest

from shared.contracts.base import Event
from shared.messaging.connection import confirm_channel, connect
from shared.messaging.consumer import Consumer
from shared.messaging.envelope import Envelope
from shared.messaging.management import ManagementClient
from shared.messaging.publisher import Publisher
from shared.messaging.topology import HandlerQueue, Topology, handler_queue
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration


class BalanceChanged(Event):
    message_type: ClassVar[str] = "wallet.balance_changed.v1"
    producer: ClassVar[str] = "wallet"

    account: str
    sequence: int


def statements(**options: object) -> HandlerQueue:
    return handler_queue("statements", "on_balance", [("wallet.events", "wallet.balance_changed")], **options)


def changes(keys: int, per_key: int) -> list[Envelope]:
    return [
        Envelope(
            type=BalanceChanged.message_type,
            correlation_id=f"acct-{k}",
            producer="wallet",
            ordering_key=f"acct-{k}",
            payload={"account": f"acct-{k}", "sequence": seq},
        )
        for seq in range(per_key)
        for k in range(keys)
    ]


async def run_two_instances(
    amqp_url: str, queue: HandlerQueue, envelopes: list[Envelope]
) -> dict[str, list[tuple[int, int]]]:
    """Two consumer instances (own connections) on ``queue``; returns per account [(sequence, instance)]."""
    topology = Topology("statements", publishes=False, queues=(queue,))
    seen: dict[str, list[tuple[int, int]]] = {}
    connections = [await connect(amqp_url, connection_name=f"statements-{i}") for i in range(2)]
    consumers = []
    try:
        for instance, connection in enumerate(connections):

            async def record(message: BalanceChanged, envelope: Envelope, instance: int = instance) -> None:
                seen.setdefault(message.account, []).append((message.sequence, instance))

            consumer = Consumer(connection, topology)
            consumer.register("on_balance", record, accepts=[BalanceChanged])
            await consumer.start()
            consumers.append(consumer)
        publisher = Publisher(await confirm_channel(connections[0]))
        for envelope in envelopes:
            await publisher.publish("wallet.events", envelope)
        await wait_for(lambda: sum(map(len, seen.values())) == len(envelopes), timeout=30)
        for consumer in consumers:
            await consumer.stop(grace_seconds=5)
    finally:
        for connection in connections:
            await connection.close()
    return seen


async def test_each_key_is_handled_in_order_when_queue_has_single_active_consumer(
    amqp_url: str, vhost: str, rabbit_admin: ManagementClient
) -> None:
    seen = await run_two_instances(
        amqp_url, statements(single_active_consumer=True), changes(keys=5, per_key=20)
    )

    for account, handled in seen.items():
        assert [seq for seq, _ in handled] == list(range(20)), account
    # One instance was active; the other stood by.
    assert len({instance for handled in seen.values() for _, instance in handled}) == 1
    [queue] = [q for q in await rabbit_admin.queues(vhost) if q["name"] == "statements.on_balance"]
    assert queue["arguments"]["x-single-active-consumer"] is True


async def test_each_key_is_handled_in_order_when_keys_are_sharded_over_consistent_hash_queues(
    amqp_url: str, vhost: str, rabbit_admin: ManagementClient
) -> None:
    seen = await run_two_instances(amqp_url, statements(shards=2), changes(keys=20, per_key=10))

    assert len(seen) == 20
    for account, handled in seen.items():
        assert [seq for seq, _ in handled] == list(range(10)), account
        assert len({instance for _, instance in handled}) == 1, f"{account} was split across instances"
    exchanges = {e["name"]: e for e in await rabbit_admin.exchanges(vhost)}
    assert exchanges["statements.on_balance.hash"]["type"] == "x-consistent-hash"
    queues = {q["name"] for q in await rabbit_admin.queues(vhost)}
    assert {
        "statements.on_balance.shard.1",
        "statements.on_balance.shard.2",
        "statements.on_balance.dlq",
    } <= queues
