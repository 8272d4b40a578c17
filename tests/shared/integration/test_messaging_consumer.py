"""The RabbitMQ consumer runtime: acks, real TTL retry tiers, concurrency, reconnection, pause/resume."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

import pytest
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import REGISTRY

from shared.contracts.base import Event
from shared.messaging import headers as h
from shared.messaging.connection import confirm_channel, connect
from shared.messaging.consumer import Consumer
from shared.messaging.envelope import Envelope
from shared.messaging.failure import describe_dead_letter
from shared.messaging.management import ManagementClient
from shared.messaging.publisher import Publisher
from shared.messaging.topology import Topology, handler_queue
from shared.observability.tracing import current_traceparent
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration


class MeterRead(Event):
    message_type: ClassVar[str] = "grid.meter_read.v1"
    producer: ClassVar[str] = "grid"

    meter_id: str
    reading: int


GRID = Topology("grid")


def billing(**options: object) -> Topology:
    queue = handler_queue("billing", "on_reading", [("grid.events", "grid.meter_read")], **options)
    return Topology("billing", publishes=False, queues=(queue,))


def reading(n: int) -> Envelope:
    payload = MeterRead(meter_id=f"m-{n}", reading=n).model_dump()
    return Envelope(type=MeterRead.message_type, correlation_id=f"m-{n}", producer="grid", payload=payload)


async def ready_count(amqp_url: str, queue: str) -> int:
    connection = await connect(amqp_url, connection_name="probe")
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count
        assert count is not None
        return count


async def publish_all(amqp_url: str, envelopes: list[Envelope]) -> None:
    connection = await connect(amqp_url, connection_name="producer")
    async with connection:
        publisher = Publisher(await confirm_channel(connection))
        for envelope in envelopes:
            await publisher.publish("grid.events", envelope)


def acked_so_far() -> float:
    return (
        REGISTRY.get_sample_value(
            "warren_messages_acked_total", {"service": "billing", "handler": "on_reading"}
        )
        or 0.0
    )


async def test_message_stays_unacked_until_handler_returns_when_handler_is_slow(amqp_url: str) -> None:
    topology = billing()
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(message: MeterRead, envelope: Envelope) -> None:
        started.set()
        await release.wait()

    connection = await connect(amqp_url, connection_name="billing")
    consumer = Consumer(connection, topology)
    consumer.register("on_reading", slow, accepts=[MeterRead])
    await consumer.start()
    await publish_all(amqp_url, [reading(1)])
    await asyncio.wait_for(started.wait(), timeout=10)
    assert await ready_count(amqp_url, "billing.on_reading") == 0  # delivered...
    await connection.close()  # ...and the connection dies before the handler returned
    assert await wait_for(lambda: ready_count(amqp_url, "billing.on_reading"), timeout=10) == 1
    release.set()

    handled: list[int] = []

    async def quick(message: MeterRead, envelope: Envelope) -> None:
        handled.append(message.reading)

    connection = await connect(amqp_url, connection_name="billing")
    consumer = Consumer(connection, topology)
    consumer.register("on_reading", quick, accepts=[MeterRead])
    await consumer.start()
    await wait_for(lambda: handled == [1], timeout=10)
    await wait_for(lambda: consumer.in_flight() == 0, timeout=10)
    await consumer.stop(grace_seconds=5)
    await connection.close()
    assert await ready_count(amqp_url, "billing.on_reading") == 0  # acked: closing did not bring it back


async def test_message_comes_back_from_ttl_retry_tiers_when_handler_fails_transiently(amqp_url: str) -> None:
    attempts: list[tuple[float, object]] = []
    started = time.monotonic()

    async def flaky(message: MeterRead, envelope: Envelope) -> None:
        attempts.append((time.monotonic() - started, None))
        if len(attempts) < 3:
            raise TimeoutError("tariff service slow")

    connection = await connect(amqp_url, connection_name="billing")
    async with connection:
        consumer = Consumer(connection, billing(retry_delays=(0.2, 0.3)))
        consumer.register("on_reading", flaky, accepts=[MeterRead])
        await consumer.start()
        await publish_all(amqp_url, [reading(1)])
        await wait_for(lambda: len(attempts) == 3, timeout=10)
        await consumer.stop(grace_seconds=5)
    # Each retry waited out its tier's TTL on the broker (0.2 s, then 0.3 s): no hot loop.
    assert attempts[1][0] - attempts[0][0] >= 0.2
    assert attempts[2][0] - attempts[1][0] >= 0.3
    assert await ready_count(amqp_url, "billing.on_reading.dlq") == 0


async def test_retry_headers_count_attempts_when_message_is_retried(amqp_url: str) -> None:
    seen: list[int] = []
    first_failures: set[str] = set()

    connection = await connect(amqp_url, connection_name="billing")
    async with connection:
        channel = await connection.channel()
        consumer = Consumer(connection, billing(retry_delays=(0.1, 0.1)))

        async def fails(message: MeterRead, envelope: Envelope) -> None:
            raise ConnectionError("down")

        consumer.register("on_reading", fails, accepts=[MeterRead])
        await consumer.start()
        await publish_all(amqp_url, [reading(1)])
        dlq = await channel.declare_queue("billing.on_reading.dlq", passive=True)
        dead = await wait_for(lambda: dlq.get(fail=False), timeout=10)
        await dead.ack()
        seen.append(int(dead.headers[h.ATTEMPTS]))  # type: ignore[arg-type]
        first_failures.add(str(dead.headers[h.FIRST_FAILURE_AT]))
        assert dead.headers[h.FAILURE_CLASS] == "exhausted"
        assert dead.headers[h.SERVICE] == "billing"
        assert dead.message_id is not None
        assert dead.content_type == "application/json"
        await consumer.stop(grace_seconds=5)
    assert seen == [3]


async def test_handlers_run_concurrently_up_to_prefetch_when_queue_is_busy(amqp_url: str) -> None:
    release = asyncio.Event()
    running = 0
    most = 0

    async def blocking(message: MeterRead, envelope: Envelope) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1

    connection = await connect(amqp_url, connection_name="billing")
    async with connection:
        consumer = Consumer(connection, billing(prefetch=3))
        consumer.register("on_reading", blocking, accepts=[MeterRead])
        await consumer.start()
        await publish_all(amqp_url, [reading(n) for n in range(6)])
        await wait_for(lambda: consumer.in_flight() == 3, timeout=10)
        assert await ready_count(amqp_url, "billing.on_reading") == 3  # the rest waits on the broker
        release.set()
        await wait_for(lambda: running == 0 and consumer.in_flight() == 0, timeout=10)
        await consumer.stop(grace_seconds=5)
    assert most == 3


async def test_consumers_resume_without_loss_or_double_ack_when_broker_closes_the_connection(
    amqp_url: str, vhost: str, rabbit_admin: ManagementClient
) -> None:
    total = 300
    handled: dict[int, int] = {}
    gate = asyncio.Event()  # holds the second half in flight until the connection has been closed

    async def record(message: MeterRead, envelope: Envelope) -> None:
        if message.reading >= total // 2:
            await gate.wait()
        handled[message.reading] = handled.get(message.reading, 0) + 1

    acked_before = acked_so_far()
    connection = await connect(amqp_url, connection_name="billing-consumer", reconnect_interval=0.2)
    try:
        consumer = Consumer(connection, billing(prefetch=10))
        consumer.register("on_reading", record, accepts=[MeterRead])
        await consumer.start()
        await publish_all(amqp_url, [reading(n) for n in range(total)])
        await wait_for(lambda: consumer.in_flight() == 10, timeout=20, message="a full prefetch in flight")

        async def consumer_connections() -> list[str]:
            return [
                c["name"]
                for c in await rabbit_admin.connections(vhost)
                if c.get("client_properties", {}).get("connection_name") == "billing-consumer"
            ]

        [name] = await wait_for(consumer_connections, timeout=15, message="connection listed by management")
        await rabbit_admin.close_connection(name, reason="test: broker-side close")
        assert len(handled) < total  # the close happened mid-stream
        # Let the handlers go: those of the dead channel finish but cannot ack, so the broker redelivers
        # their messages to the restored consumer.
        gate.set()

        await wait_for(lambda: len(handled) == total, timeout=30, message="every message handled")
        await wait_for(
            lambda: acked_so_far() - acked_before >= total and consumer.in_flight() == 0, timeout=15
        )
        await consumer.stop(grace_seconds=5)
    finally:
        await connection.close()
    assert set(handled) == set(range(total))  # nothing lost
    assert acked_so_far() - acked_before == total  # each message acked exactly once
    assert await ready_count(amqp_url, "billing.on_reading") == 0


async def test_paused_handler_takes_no_messages_until_resumed_when_paused(amqp_url: str) -> None:
    handled: list[int] = []

    async def record(message: MeterRead, envelope: Envelope) -> None:
        handled.append(message.reading)

    connection = await connect(amqp_url, connection_name="billing")
    async with connection:
        consumer = Consumer(connection, billing())
        consumer.register("on_reading", record, accepts=[MeterRead])
        await consumer.start()
        await consumer.pause("on_reading")
        assert consumer.is_paused("on_reading")
        await publish_all(amqp_url, [reading(1), reading(2)])
        assert await wait_for(lambda: ready_count(amqp_url, "billing.on_reading"), timeout=5) == 2
        assert handled == []
        await consumer.resume("on_reading")
        await wait_for(lambda: sorted(handled) == [1, 2], timeout=10)
        await consumer.stop(grace_seconds=5)


async def test_message_lands_in_dlq_when_retry_republish_fails(amqp_url: str) -> None:
    connection = await connect(amqp_url, connection_name="billing")
    async with connection:
        consumer = Consumer(connection, billing())

        async def fails(message: MeterRead, envelope: Envelope) -> None:
            raise ConnectionError("down")

        consumer.register("on_reading", fails, accepts=[MeterRead])
        await consumer.start()
        channel = await connection.channel()
        await channel.exchange_delete("billing.retry")  # an operator's mistake: the tier cannot be reached
        await publish_all(amqp_url, [reading(1)])
        dlq = await channel.declare_queue("billing.on_reading.dlq", passive=True)
        dead = await wait_for(lambda: dlq.get(fail=False), timeout=10)
        await dead.ack()
        # Rejected without requeue: the queue's own dead-letter route kept it, no hot requeue loop.
        record = describe_dead_letter(dict(dead.headers))
        assert record.failure == "rejected"
        assert record.original_queue == "billing.on_reading"
        assert await ready_count(amqp_url, "billing.on_reading") == 0
        await consumer.stop(grace_seconds=5)


async def test_handler_continues_the_publishers_trace_when_published_inside_a_span(amqp_url: str) -> None:
    seen: list[tuple[str | None, str | None]] = []

    async def record(message: MeterRead, envelope: Envelope) -> None:
        seen.append((envelope.traceparent, current_traceparent()))

    provider = TracerProvider()  # a local provider: the global one belongs to whoever configures it
    connection = await connect(amqp_url, connection_name="billing")
    async with connection:
        consumer = Consumer(connection, billing())
        consumer.register("on_reading", record, accepts=[MeterRead])
        await consumer.start()
        with provider.get_tracer("test").start_as_current_span("meter upload") as span:
            await publish_all(amqp_url, [reading(1)])
        await wait_for(lambda: seen, timeout=10)
        await consumer.stop(grace_seconds=5)
    trace_id = format(span.get_span_context().trace_id, "032x")
    [(stamped, inside)] = seen
    assert stamped is not None
    assert stamped.split("-")[1] == trace_id  # the publisher stamped the active span
    assert inside is not None
    assert inside.split("-")[1] == trace_id  # and the handler's span continues it
