"""Handler behaviour that must hold on both brokers: each test runs in memory and against RabbitMQ."""

from __future__ import annotations

import uuid
from typing import ClassVar

import aio_pika
import pytest

from shared.contracts.base import Event
from shared.messaging import headers as h
from shared.messaging.envelope import Envelope
from shared.messaging.errors import PermanentError
from shared.messaging.topology import Topology, handler_queue
from shared.testing.messaging_harness import MessagingHarness


class ParcelShipped(Event):
    message_type: ClassVar[str] = "depot.parcel_shipped.v1"
    producer: ClassVar[str] = "depot"

    parcel_id: str
    weight_grams: int


class ParcelLost(Event):
    message_type: ClassVar[str] = "depot.parcel_lost.v1"
    producer: ClassVar[str] = "depot"

    parcel_id: str


DEPOT = Topology("depot")
ON_SHIPPED = handler_queue(
    "tracker", "on_shipped", [("depot.events", "depot.parcel_shipped")], retry_delays=(0.2, 0.2)
)
ON_ANY = handler_queue("tracker", "on_any", [("depot.events", "depot.#")], retry_delays=(0.2,))
TRACKER = Topology("tracker", publishes=False, queues=(ON_SHIPPED, ON_ANY))


def shipped(parcel_id: str = "p-1", weight: int = 100) -> Envelope:
    payload = ParcelShipped(parcel_id=parcel_id, weight_grams=weight).model_dump()
    return Envelope(
        type=ParcelShipped.message_type, correlation_id=parcel_id, producer="depot", payload=payload
    )


def lost(parcel_id: str = "p-1") -> Envelope:
    payload = ParcelLost(parcel_id=parcel_id).model_dump()
    return Envelope(type=ParcelLost.message_type, correlation_id=parcel_id, producer="depot", payload=payload)


async def ignore(message: object, envelope: Envelope) -> None:
    return None


async def test_each_handler_gets_the_messages_its_pattern_matches_when_bound_by_pattern(
    messaging_harness: MessagingHarness,
) -> None:
    seen_by_shipped: list[str] = []
    seen_by_any: list[str] = []

    async def on_shipped(message: ParcelShipped, envelope: Envelope) -> None:
        seen_by_shipped.append(envelope.type)

    async def on_any(message: ParcelShipped | ParcelLost, envelope: Envelope) -> None:
        seen_by_any.append(envelope.type)

    messaging_harness.register(ON_SHIPPED, on_shipped, accepts=[ParcelShipped])
    messaging_harness.register(ON_ANY, on_any, accepts=[ParcelShipped, ParcelLost])
    await messaging_harness.start(DEPOT, TRACKER)
    await messaging_harness.publish("depot.events", shipped())
    await messaging_harness.publish("depot.events", lost())
    await messaging_harness.settle()

    assert seen_by_shipped == ["depot.parcel_shipped.v1"]
    assert sorted(seen_by_any) == ["depot.parcel_lost.v1", "depot.parcel_shipped.v1"]
    assert await messaging_harness.dead_letters(ON_SHIPPED) == []


async def test_message_is_handled_after_retries_when_handler_fails_transiently_twice(
    messaging_harness: MessagingHarness,
) -> None:
    calls: list[int] = []

    async def flaky(message: ParcelShipped, envelope: Envelope) -> None:
        calls.append(message.weight_grams)
        if len(calls) < 3:
            raise ConnectionError("warehouse API timed out")

    messaging_harness.register(ON_SHIPPED, flaky, accepts=[ParcelShipped])
    messaging_harness.register(ON_ANY, ignore, accepts=[ParcelShipped, ParcelLost])
    await messaging_harness.start(DEPOT, TRACKER)
    await messaging_harness.publish("depot.events", shipped(weight=7))
    await messaging_harness.settle()

    assert calls == [7, 7, 7]
    assert await messaging_harness.dead_letters(ON_SHIPPED) == []


async def test_message_is_dead_lettered_with_reason_headers_when_retries_are_exhausted(
    messaging_harness: MessagingHarness,
) -> None:
    calls = 0

    async def broken(message: ParcelShipped, envelope: Envelope) -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("warehouse API down")

    messaging_harness.register(ON_SHIPPED, broken, accepts=[ParcelShipped])
    messaging_harness.register(ON_ANY, ignore, accepts=[ParcelShipped, ParcelLost])
    await messaging_harness.start(DEPOT, TRACKER)
    sent = shipped()
    await messaging_harness.publish("depot.events", sent)
    await messaging_harness.settle()

    assert calls == 3  # the first delivery and one per retry tier
    [dead] = await messaging_harness.dead_letters(ON_SHIPPED)
    assert dead.message_id == str(sent.message_id)
    assert Envelope.from_message(dead.message) == sent
    record = dead.record
    assert record.failure == "exhausted"
    assert "retries exhausted after 3 attempts" in record.reason
    assert "warehouse API down" in record.reason
    assert record.exception == "builtins.ConnectionError"
    assert (record.service, record.handler) == ("tracker", "on_shipped")
    assert record.attempts == 3
    assert record.first_failure_at is not None
    assert record.original_queue == "tracker.on_shipped"
    assert record.original_exchange == "depot.events"
    assert record.original_routing_key == "depot.parcel_shipped"


async def test_malformed_body_is_dead_lettered_at_once_when_it_is_not_json(
    messaging_harness: MessagingHarness,
) -> None:
    calls = 0

    async def handler(message: ParcelShipped, envelope: Envelope) -> None:
        nonlocal calls
        calls += 1

    messaging_harness.register(ON_SHIPPED, handler, accepts=[ParcelShipped])
    messaging_harness.register(ON_ANY, ignore, accepts=[ParcelShipped, ParcelLost])
    await messaging_harness.start(DEPOT, TRACKER)
    message_id = str(uuid.uuid4())
    garbage = aio_pika.Message(b"\x00not json", message_id=message_id, type=ParcelShipped.message_type)
    await messaging_harness.publish_raw("depot.events", "depot.parcel_shipped", garbage)
    await messaging_harness.settle()

    assert calls == 0
    [dead] = await messaging_harness.dead_letters(ON_SHIPPED)
    assert dead.message_id == message_id
    assert dead.message.body == b"\x00not json"
    assert dead.record.failure == "permanent"
    assert dead.record.exception == "shared.messaging.errors.MalformedMessage"
    assert dead.record.attempts == 1
    assert dead.headers[h.HANDLER] == "on_shipped"


@pytest.mark.parametrize(
    ("envelope", "error", "expected_exception"),
    [
        (shipped().model_copy(update={"payload": {"parcel_id": "p"}}), None, "ContractViolation"),
        (
            shipped(),
            PermanentError("parcel belongs to another depot"),
            "shared.messaging.errors.PermanentError",
        ),
        (lost(), None, "shared.messaging.errors.UnknownMessageType"),
    ],
    ids=["invalid-payload", "handler-marks-permanent", "type-not-accepted"],
)
async def test_message_is_dead_lettered_at_once_when_failure_is_permanent(
    messaging_harness: MessagingHarness, envelope: Envelope, error: Exception | None, expected_exception: str
) -> None:
    calls = 0

    async def handler(message: ParcelShipped, envelope: Envelope) -> None:
        nonlocal calls
        calls += 1
        if error is not None:
            raise error

    # on_any handles the same events through a pattern, so the not-accepted type reaches on_shipped's twin.
    queue = ON_ANY if expected_exception.endswith("UnknownMessageType") else ON_SHIPPED
    messaging_harness.register(queue, handler, accepts=[ParcelShipped])
    other = ON_SHIPPED if queue is ON_ANY else ON_ANY
    messaging_harness.register(other, ignore, accepts=[ParcelShipped, ParcelLost])
    await messaging_harness.start(DEPOT, TRACKER)
    await messaging_harness.publish("depot.events", envelope)
    await messaging_harness.settle()

    [dead] = await messaging_harness.dead_letters(queue)
    assert dead.record.failure == "permanent"
    assert dead.record.exception is not None
    assert dead.record.exception.endswith(expected_exception)
    assert dead.record.attempts == 1
    assert calls == (1 if error is not None else 0)
