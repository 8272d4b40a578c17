"""The fraud service in-process on the real broker and database: payment.requested in, fraud.assessed out."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aio_pika
import httpx
import pytest

from fraud.adapters.migrate import upgrade
from fraud.config import FraudSettings
from fraud.entrypoints.main import build
from shared.contracts import envelope_for
from shared.contracts.payment import PaymentRequested
from shared.messaging.connection import confirm_channel, connect
from shared.messaging.envelope import Envelope
from shared.messaging.publisher import Publisher
from shared.runtime.lifecycle import Lifecycle
from shared.testing.flaky_http import FlakyHttpServer, Reply
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration


def requested(payment_id: str, *, customer: str = "c1", email: str = "ann@example.com") -> PaymentRequested:
    return PaymentRequested.model_validate(
        {
            "payment_id": payment_id,
            "order_id": f"order-{payment_id}",
            "customer": {"id": customer, "email": email, "country": "NL"},
            "items": [{"sku": "A", "quantity": 1, "unit_amount": 500}],
            "amount": 500,
            "currency": "EUR",
        }
    )


@dataclass
class Running:
    http: httpx.AsyncClient
    publisher: Publisher
    events: list[Envelope]

    async def publish(self, envelope: Envelope) -> None:
        await self.publisher.publish("payment.events", envelope)

    def decisions(self) -> dict[str, str]:
        return {event.payload["payment_id"]: event.payload["decision"] for event in self.events}


@contextlib.asynccontextmanager
async def running_fraud(amqp_url: str, database_url: str, **options: Any) -> AsyncIterator[Running]:
    await asyncio.to_thread(upgrade, database_url)
    service = await build(FraudSettings(amqp_url=amqp_url, database_url=database_url, http_port=0, **options))
    lifecycle = Lifecycle(service.components, stop_timeout=10)
    await lifecycle.start()
    connection = await connect(amqp_url, connection_name="fraud-test-probe")
    try:
        channel = await confirm_channel(connection)
        events: list[Envelope] = []
        probe = await channel.declare_queue("", exclusive=True)
        await probe.bind("fraud.events", "#")

        async def collect(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                events.append(Envelope.from_message(message))

        await probe.consume(collect)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.http.port}") as http:
            yield Running(http, Publisher(channel), events)
    finally:
        await connection.close()
        await lifecycle.stop()


async def test_each_payment_is_assessed_once_when_its_request_is_published_twice(
    amqp_url: str, database_url: str
) -> None:
    async with running_fraud(amqp_url, database_url) as fraud:
        first = envelope_for(requested("p1"))
        await fraud.publish(first)
        await fraud.publish(first)
        await fraud.publish(envelope_for(requested("p2", email="eve@blocked.example")))
        await wait_for(lambda: len(fraud.events) >= 2, timeout=10, message="assessments relayed")
        assert fraud.decisions() == {"p1": "approved", "p2": "rejected"}
        assessed = next(e for e in fraud.events if e.payload["payment_id"] == "p1")
        assert (assessed.correlation_id, assessed.causation_id) == (
            first.correlation_id,
            str(first.message_id),
        )
        assert (await fraud.http.get("/readyz")).status_code == 200
        # the duplicate left no second event behind it
        await fraud.publish(envelope_for(requested("p3")))
        await wait_for(lambda: "p3" in fraud.decisions(), timeout=10, message="p3 assessed")
        assert len(fraud.events) == 3


async def test_sixth_payment_of_a_customer_goes_to_review_when_they_arrive_together(
    amqp_url: str, database_url: str
) -> None:
    async with running_fraud(amqp_url, database_url) as fraud:
        await asyncio.gather(*(fraud.publish(envelope_for(requested(f"p{n}"))) for n in range(6)))
        await wait_for(lambda: len(fraud.events) >= 6, timeout=10, message="assessments relayed")
        assert sorted(fraud.decisions().values()) == ["approved"] * 5 + ["review"]


async def test_rules_decide_alone_and_the_breaker_stops_calls_when_the_risk_service_is_down(
    amqp_url: str, sqlite_url: str
) -> None:
    async with (
        FlakyHttpServer() as risk,
        running_fraud(
            amqp_url,
            sqlite_url,
            risk_score_url=f"{risk_url(risk)}",
            risk_breaker_fail_max=3,
            risk_breaker_reset_seconds=0.5,
            risk_score_timeout_seconds=0.3,
        ) as fraud,
    ):
        risk.set_default(Reply(200, body={"score": 95}))
        await fraud.publish(envelope_for(requested("risky", customer="a")))
        await wait_for(lambda: "risky" in fraud.decisions(), timeout=10, message="risky assessed")

        risk.outage()  # 503 from now on
        for n in range(6):
            await fraud.publish(envelope_for(requested(f"down{n}", customer=f"d{n}")))
        await wait_for(lambda: len(fraud.events) >= 7, timeout=15, message="assessed while down")
        # Without a breaker: 6 payments x 2 attempts = 12 calls. With it, the 3 failures that open it plus
        # the few attempts already in flight at that moment (the consumer handles several at once).
        calls_while_down = len(risk.requests) - 1
        assert 3 <= calls_while_down <= 6
        opened_by = time.monotonic()

        risk.set_default(Reply(200, body={"score": 75}))
        # Past the reset timeout the next call is the breaker's half-open probe.
        await wait_for(lambda: time.monotonic() > opened_by + 0.5, timeout=2, message="breaker reset due")
        await fraud.publish(envelope_for(requested("back", customer="b")))
        await wait_for(lambda: "back" in fraud.decisions(), timeout=10, message="back assessed")
    by_payment = {event.payload["payment_id"]: event.payload for event in fraud.events}
    assert (by_payment["risky"]["decision"], by_payment["risky"]["reasons"]) == (
        "rejected",
        ["risk_score_high"],
    )
    for n in range(6):
        assert (by_payment[f"down{n}"]["decision"], by_payment[f"down{n}"]["reasons"]) == (
            "approved",
            ["risk_score_unavailable"],
        )
    assert (by_payment["back"]["decision"], by_payment["back"]["score"]) == ("review", 75)


def risk_url(server: FlakyHttpServer) -> str:
    return f"{server.url}/score"
