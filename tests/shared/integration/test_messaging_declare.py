"""Declaring a topology on RabbitMQ: idempotent, readable, and clear about conflicts."""

from __future__ import annotations

import dataclasses
import uuid

import httpx
import pytest

from shared.contracts.payment import PaymentRequested
from shared.messaging.connection import confirm_channel, connect
from shared.messaging.consumer import Consumer
from shared.messaging.declare import declare
from shared.messaging.envelope import Envelope
from shared.messaging.errors import TopologyMismatch
from shared.messaging.management import ManagementClient
from shared.messaging.publisher import Publisher
from shared.messaging.topology import QueueType, Topology, handler_queue
from shared.testing.fixtures import AMQP_BASE, MANAGEMENT_URL
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration

ON_PAYMENT = handler_queue(
    "fraud", "on_payment_requested", [("payment.events", "payment.requested")], retry_delays=(1, 10)
)
FRAUD = Topology("fraud", queues=(ON_PAYMENT,))


async def test_declare_creates_every_queue_with_its_arguments_when_run_twice(
    amqp_url: str, vhost: str, rabbit_admin: ManagementClient
) -> None:
    connection = await connect(amqp_url, connection_name="fraud")
    async with connection:
        await declare(connection, FRAUD)
        await declare(connection, FRAUD)  # idempotent

    queues = {q["name"]: q for q in await rabbit_admin.queues(vhost)}
    assert set(queues) == {
        "fraud.on_payment_requested",
        "fraud.on_payment_requested.retry.1.1s",
        "fraud.on_payment_requested.retry.2.10s",
        "fraud.on_payment_requested.dlq",
    }
    main = queues["fraud.on_payment_requested"]["arguments"]
    assert main["x-queue-type"] == "quorum"
    assert main["x-delivery-limit"] == 20
    assert main["x-dead-letter-exchange"] == "fraud.dead-letter"
    assert main["x-dead-letter-routing-key"] == "fraud.on_payment_requested.dlq"
    tier = queues["fraud.on_payment_requested.retry.2.10s"]["arguments"]
    assert tier["x-message-ttl"] == 10_000
    assert tier["x-dead-letter-exchange"] == "fraud.retry"
    assert tier["x-dead-letter-routing-key"] == "fraud.on_payment_requested"
    exchanges = {e["name"]: e["type"] for e in await rabbit_admin.exchanges(vhost)}
    assert exchanges["fraud.events"] == "topic"
    assert exchanges["payment.events"] == "topic"  # the producer's, so start-up order does not matter
    assert exchanges["fraud.retry"] == exchanges["fraud.dead-letter"] == "direct"
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in await rabbit_admin.bindings(vhost)}
    assert ("payment.events", "fraud.on_payment_requested", "payment.requested") in bindings
    assert (
        "fraud.retry",
        "fraud.on_payment_requested.retry.1.1s",
        "fraud.on_payment_requested.retry.1.1s",
    ) in bindings
    assert ("fraud.retry", "fraud.on_payment_requested", "fraud.on_payment_requested") in bindings
    assert (
        "fraud.dead-letter",
        "fraud.on_payment_requested.dlq",
        "fraud.on_payment_requested.dlq",
    ) in bindings


@pytest.mark.parametrize("with_management", [True, False], ids=["management-api", "broker-text"])
async def test_declare_raises_topology_mismatch_naming_queue_and_arguments_when_arguments_differ(
    amqp_url: str, rabbit_admin: ManagementClient, with_management: bool
) -> None:
    changed = dataclasses.replace(ON_PAYMENT, delivery_limit=5, max_length=1000)
    connection = await connect(amqp_url, connection_name="fraud")
    async with connection:
        await declare(connection, FRAUD)
        with pytest.raises(TopologyMismatch) as raised:
            await declare(
                connection,
                Topology("fraud", queues=(changed,)),
                management=rabbit_admin if with_management else None,
            )
        await declare(connection, FRAUD)  # the connection is still usable afterwards

    text = str(raised.value)
    assert "'fraud.on_payment_requested'" in text
    if with_management:  # every differing argument, with both values
        assert "x-delivery-limit: declared 5, broker has 20" in text
        assert "x-max-length: declared 1000, broker has None" in text
    else:  # the broker reports the first one it tripped on
        assert "x-delivery-limit" in text or "x-max-length" in text


async def test_declare_raises_topology_mismatch_when_queue_type_differs(
    amqp_url: str, rabbit_admin: ManagementClient
) -> None:
    classic = dataclasses.replace(ON_PAYMENT, queue_type=QueueType.CLASSIC)
    connection = await connect(amqp_url, connection_name="fraud")
    async with connection:
        await declare(connection, FRAUD)
        with pytest.raises(TopologyMismatch, match="x-queue-type: declared 'classic', broker has 'quorum'"):
            await declare(connection, Topology("fraud", queues=(classic,)), management=rabbit_admin)


async def test_least_privilege_user_declares_and_dead_letters_when_writes_are_limited_to_its_prefix(
    vhost: str, rabbit_admin: ManagementClient
) -> None:
    user, password = f"fraud-{uuid.uuid4().hex[:6]}", "s3cret"
    async with httpx.AsyncClient(base_url=f"{MANAGEMENT_URL}/api", auth=("guest", "guest")) as http:
        (await http.put(f"/users/{user}", json={"password": password, "tags": ""})).raise_for_status()
        try:
            # Configure and write only its own names; read everything (to bind to payment.events).
            await rabbit_admin.set_permissions(
                vhost, user, configure=r"^(fraud\.|payment\.events$)", write=r"^fraud\.", read=".*"
            )
            base = AMQP_BASE.replace("guest:guest", f"{user}:{password}")
            connection = await connect(f"{base}/{vhost}", connection_name="fraud")
            async with connection:
                consumer = Consumer(connection, FRAUD)

                async def permanent(message: object, envelope: Envelope) -> None:
                    raise AssertionError("not reached: the payload does not validate")

                consumer.register("on_payment_requested", permanent, accepts=[PaymentRequested])
                await consumer.start()
                # guest plays the payment service publishing a message the handler cannot parse.
                guest = await connect(f"{AMQP_BASE}/{vhost}", connection_name="payment")
                async with guest:
                    envelope = Envelope(
                        type="payment.requested.v1", correlation_id="c", producer="payment", payload={}
                    )
                    await Publisher(await confirm_channel(guest)).publish("payment.events", envelope)
                    channel = await guest.channel()
                    dlq = await channel.declare_queue("fraud.on_payment_requested.dlq", passive=True)
                    dead = await wait_for(lambda: dlq.get(fail=False), timeout=10)
                    assert dead.headers["x-warren-failure"] == "permanent"
                await consumer.stop(grace_seconds=2)
        finally:
            await http.delete(f"/users/{user}")
