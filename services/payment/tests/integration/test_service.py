"""The payment service in-process on the real broker and database; the test plays fraud and inventory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aio_pika
import httpx
import pytest

from gateway_sandbox.app import create_app as create_sandbox
from payment.config import PaymentSettings
from payment.entrypoints.main import build, migrate
from shared.contracts import envelope_for
from shared.contracts.base import Contract
from shared.contracts.fraud import FraudAssessed, FraudDecision
from shared.contracts.inventory import StockRejected, StockReserved
from shared.messaging.connection import confirm_channel, connect
from shared.messaging.declare import declare
from shared.messaging.publisher import Publisher
from shared.messaging.topology import Topology, events_exchange
from shared.runtime.http_server import HttpServer
from shared.runtime.lifecycle import Lifecycle
from shared.testing.waiting import wait_for

from ..unit.test_http import checkout_body

pytestmark = pytest.mark.integration


@dataclass
class Running:
    http: httpx.AsyncClient
    publisher: Publisher
    outcomes: list[tuple[str, dict[str, Any]]]
    sandbox: Any
    gateway_url: str

    async def tell(self, event: Contract) -> None:
        await self.publisher.publish(events_exchange(event.producer), envelope_for(event))

    async def checkout(self, token: str = "tok_visa") -> str:
        response = await self.http.post(
            "/payments",
            json=checkout_body(payment_method={"token": token}),
            headers={"Idempotency-Key": token},
        )
        assert response.status_code == 202
        return str(response.json()["payment_id"])

    async def outcome(self, payment_id: str) -> tuple[str, dict[str, Any]]:
        def seen() -> tuple[str, dict[str, Any]] | None:
            found = [
                (t, body)
                for t, body in self.outcomes
                if body["payment_id"] == payment_id
                and t not in {"payment.requested", "payment.review_required"}
            ]
            return found[-1] if found else None

        return await wait_for(seen, timeout=15, message=f"an outcome of {payment_id}")


@pytest.fixture
async def running(amqp_url: str, database_url: str) -> AsyncIterator[Running]:
    sandbox = create_sandbox(timeout_delay=0.1)
    gateway = HttpServer(sandbox, host="127.0.0.1", port=0, name="sandbox")
    settings = PaymentSettings(
        amqp_url=amqp_url,
        database_url=database_url,
        http_port=0,
        sweep_interval_seconds=0.1,
        charge_retry_base_seconds=0.1,
        gateway_breaker_reset_seconds=0.5,
        gateway_url="http://placeholder",
    )
    await asyncio.to_thread(migrate, settings)
    connection = await connect(amqp_url, connection_name="test-fraud-and-inventory")
    # fraud and inventory would declare their exchanges; a queue stands in for every consumer of payment's.
    for producer in ("fraud", "inventory", "payment"):
        await declare(connection, Topology(service=producer))
    channel = await confirm_channel(connection)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(events_exchange("payment"), "payment.#")
    outcomes: list[tuple[str, dict[str, Any]]] = []

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        outcomes.append(((message.routing_key or ""), json.loads(message.body)))
        await message.ack()

    await queue.consume(on_message)
    await gateway.start()
    settings.gateway_url = f"http://127.0.0.1:{gateway.port}"
    service = await build(settings)
    lifecycle = Lifecycle(service.components)
    await lifecycle.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.http.port}") as http:
        yield Running(http, Publisher(channel), outcomes, sandbox, settings.gateway_url)
    await lifecycle.stop()
    await gateway.stop()
    await connection.close()


async def test_payment_is_captured_and_requested_is_published_when_both_answers_arrive(
    running: Running,
) -> None:
    payment_id = await running.checkout()
    await wait_for(lambda: any(t == "payment.requested" for t, _ in running.outcomes), timeout=15)
    await running.tell(StockReserved(payment_id=payment_id, reservation_id="res-1", items=()))
    await running.tell(FraudAssessed(payment_id=payment_id, decision=FraudDecision.APPROVED, score=1))
    kind, body = await running.outcome(payment_id)
    assert kind == "payment.captured"
    assert body["charge_id"].startswith("ch_")
    assert (await running.http.get(f"/payments/{payment_id}")).json()["status"] == "captured"


async def test_payment_is_cancelled_without_a_charge_when_stock_is_rejected(running: Running) -> None:
    payment_id = await running.checkout()
    await running.tell(FraudAssessed(payment_id=payment_id, decision=FraudDecision.APPROVED, score=1))
    await running.tell(StockRejected(payment_id=payment_id, reason="insufficient stock"))
    kind, _ = await running.outcome(payment_id)
    assert kind == "payment.cancelled"
    assert running.sandbox.state.ledger.requests == 0


async def test_payment_is_captured_once_when_the_gateway_fails_for_a_while(running: Running) -> None:
    ledger = running.sandbox.state.ledger
    payment_id = await running.checkout()
    async with httpx.AsyncClient(base_url=str(running.gateway_url)) as gateway:
        await gateway.post("/admin/chaos", json={"mode": "fail", "seconds": 60})
        await running.tell(StockReserved(payment_id=payment_id, reservation_id="res-1", items=()))
        await running.tell(FraudAssessed(payment_id=payment_id, decision=FraudDecision.APPROVED, score=1))

        async def retried() -> bool:
            view = (await running.http.get(f"/payments/{payment_id}")).json()
            return [s["step"] for s in view["history"]].count("charge.unavailable") >= 2

        await wait_for(retried, timeout=15)
        await gateway.delete("/admin/chaos")
    kind, _ = await running.outcome(payment_id)
    assert kind == "payment.captured"
    assert len(ledger.charges) == 1


async def test_redelivered_answer_changes_nothing_when_it_was_handled(running: Running) -> None:
    payment_id = await running.checkout()
    review = envelope_for(FraudAssessed(payment_id=payment_id, decision=FraudDecision.REVIEW, score=70))
    await running.publisher.publish(events_exchange("fraud"), review)
    await running.publisher.publish(events_exchange("fraud"), review)
    await wait_for(lambda: any(t == "payment.review_required" for t, _ in running.outcomes), timeout=15)
    await running.tell(StockRejected(payment_id=payment_id, reason="insufficient stock"))
    kind, _ = await running.outcome(payment_id)
    assert kind == "payment.cancelled"
    mine = [t for t, body in running.outcomes if body["payment_id"] == payment_id]
    assert mine == ["payment.requested", "payment.review_required", "payment.cancelled"]


async def test_every_payment_is_charged_once_when_answers_and_duplicates_race(running: Running) -> None:
    ids = []
    for n in range(30):
        response = await running.http.post(
            "/payments", json=checkout_body(order_id=f"race-{n}"), headers={"Idempotency-Key": f"race-{n}"}
        )
        ids.append(response.json()["payment_id"])
    answers = []
    for payment_id in ids:
        reserved = envelope_for(
            StockReserved(payment_id=payment_id, reservation_id=f"r-{payment_id}", items=())
        )
        assessed = FraudAssessed(payment_id=payment_id, decision=FraudDecision.APPROVED, score=1)
        # Each answer twice under one id (a redelivery) and the assessment once more as a new message.
        answers += [
            (events_exchange("inventory"), reserved),
            (events_exchange("inventory"), reserved),
            (events_exchange("fraud"), envelope_for(assessed)),
            (events_exchange("fraud"), envelope_for(assessed)),
        ]
    await asyncio.gather(*(running.publisher.publish(exchange, envelope) for exchange, envelope in answers))

    async def all_captured() -> bool:
        return all(
            any(t == "payment.captured" and body["payment_id"] == i for t, body in running.outcomes)
            for i in ids
        )

    await wait_for(all_captured, timeout=60, message="30 payments captured")
    ledger = running.sandbox.state.ledger
    assert len(ledger.charges) == 30
    assert sorted(c["reference"] for c in ledger.charges) == sorted(ids)
    captured = [body["payment_id"] for t, body in running.outcomes if t == "payment.captured"]
    assert sorted(captured) == sorted(ids), "one payment.captured per payment"
