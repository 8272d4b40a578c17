"""The fraud service in-process on the real broker and database: payment.requested in, fraud.assessed out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aio_pika
import httpx
import pytest
from fastapi import FastAPI, Response

from fraud.adapters.migrate import upgrade
from fraud.config import FraudSettings
from fraud.entrypoints.main import build
from shared.contracts import envelope_for
from shared.contracts.payment import PaymentRequested
from shared.messaging.connection import confirm_channel, connect
from shared.messaging.envelope import Envelope
from shared.messaging.publisher import Publisher
from shared.runtime.http_server import HttpServer
from shared.runtime.lifecycle import Lifecycle
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


@contextlib.asynccontextmanager
async def risk_service(answer: dict[str, Any]) -> AsyncIterator[str]:
    app = FastAPI()

    @app.post("/score")
    async def score() -> Response:
        if answer.get("status", 200) != 200:
            return Response(status_code=answer["status"])
        return Response(content=f'{{"score": {answer["score"]}}}', media_type="application/json")

    server = HttpServer(app, host="127.0.0.1", port=0)
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.port}/score"
    finally:
        await server.stop()


async def test_rules_decide_alone_when_the_risk_service_fails_and_its_score_counts_again_when_back(
    amqp_url: str, sqlite_url: str
) -> None:
    answer: dict[str, Any] = {"score": 95}
    async with risk_service(answer) as url, running_fraud(amqp_url, sqlite_url, risk_score_url=url) as fraud:
        await fraud.publish(envelope_for(requested("risky", customer="a")))
        await wait_for(lambda: "risky" in fraud.decisions(), timeout=10, message="risky assessed")
        answer["status"] = 503
        await fraud.publish(envelope_for(requested("down", customer="b")))
        await wait_for(lambda: "down" in fraud.decisions(), timeout=10, message="down assessed")
        answer["status"] = 200
        answer["score"] = 75
        await fraud.publish(envelope_for(requested("back", customer="c")))
        await wait_for(lambda: "back" in fraud.decisions(), timeout=10, message="back assessed")
    by_payment = {event.payload["payment_id"]: event.payload for event in fraud.events}
    assert (by_payment["risky"]["decision"], by_payment["risky"]["reasons"]) == (
        "rejected",
        ["risk_score_high"],
    )
    assert (by_payment["down"]["decision"], by_payment["down"]["reasons"]) == (
        "approved",
        ["risk_score_unavailable"],
    )
    assert by_payment["back"]["decision"] == "review"
