"""The consumer runtime dead-letters a message; the operator sees why with `warren dlq list`, fixes the cause,
replays it, and the handler finally gets the very same message (same id, so an inbox would dedupe)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import aio_pika
import pytest
from typer.testing import CliRunner

from shared.contracts.codec import envelope_for
from shared.contracts.fraud import FraudAssessed, FraudDecision
from shared.messaging.consumer import Consumer
from shared.messaging.envelope import Envelope
from shared.messaging.errors import PermanentError
from shared.messaging.publisher import Publisher
from shared.messaging.topology import Topology, events_exchange, handler_queue
from shared.testing.fixtures import MANAGEMENT_URL
from shared.testing.waiting import wait_for
from warrenctl.app import app

pytestmark = pytest.mark.integration

TOPOLOGY = Topology(
    service="payment",
    queues=(handler_queue("payment", "on_fraud_assessed", [(events_exchange("fraud"), "fraud.assessed")]),),
    consumes_from=(events_exchange("fraud"),),
)
DLQ = TOPOLOGY.queue("on_fraud_assessed").dlq_name


async def test_replayed_dead_letter_reaches_the_handler_with_its_id_when_the_cause_is_fixed(
    amqp_url: str, vhost: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {
        "WARREN_AMQP_URL": amqp_url,
        "WARREN_MANAGEMENT_URL": MANAGEMENT_URL,
        "WARREN_MANAGEMENT_USER": "guest",
        "WARREN_MANAGEMENT_PASSWORD": "guest",
        "WARREN_VHOST": vhost,
        "COLUMNS": "250",
    }.items():
        monkeypatch.setenv(key, value)
    broken = True
    handled: list[str] = []

    async def on_fraud_assessed(message: FraudAssessed, envelope: Envelope) -> None:
        if broken:
            raise PermanentError("payment 'p-1' unknown here")
        handled.append(str(envelope.message_id))

    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        consumer = Consumer(connection, TOPOLOGY)
        consumer.register("on_fraud_assessed", on_fraud_assessed, accepts=[FraudAssessed])
        await consumer.start()
        try:
            sent = envelope_for(FraudAssessed(payment_id="p-1", decision=FraudDecision.APPROVED, score=3))
            channel = await connection.channel(publisher_confirms=True)
            await Publisher(channel).publish("fraud.events", sent)

            async def dead_letters() -> int:
                probe = await connection.channel()
                try:
                    declared = await (await probe.get_underlay_channel()).queue_declare(DLQ, passive=True)
                    return int(declared.message_count or 0)
                finally:
                    await probe.close()

            await wait_for(dead_letters, timeout=15, message="the message is dead-lettered")
            listing = await _invoke(["dlq", "list"])
            assert listing.exit_code == 0, listing.output
            assert "payment 'p-1' unknown here" in listing.output
            assert str(sent.message_id) in listing.output

            broken = False
            replay = await _invoke(["dlq", "replay", DLQ, "--id", str(sent.message_id)])
            assert replay.exit_code == 0, replay.output
            await wait_for(lambda: handled, timeout=15, message="the replayed message is handled")
            assert handled == [str(sent.message_id)]
            assert await dead_letters() == 0
        finally:
            await consumer.stop()


async def _invoke(args: list[str]) -> Any:
    """Run the CLI (which runs its own event loop) in a thread, so this test's loop keeps consuming."""
    result: dict[str, Any] = {}
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    def run() -> None:
        result["value"] = CliRunner().invoke(app, args)
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=run, name=f"warren-{uuid.uuid4().hex[:4]}").start()
    await done.wait()
    return result["value"]
