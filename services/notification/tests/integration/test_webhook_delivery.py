"""Webhook delivery: signed POST that a receiver verifies; a 4xx ends as failed without retries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response

from notification.adapters.webhook_signing import IDEMPOTENCY_HEADER, InvalidSignature, verify
from notification.domain.decisions import Audience
from notification.domain.model import Channel, Status, notification_id
from notification.tests.factories import envelope_for, outcome
from notification.tests.harness import load
from shared.runtime.http_server import HttpServer
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration

SECRET = "test-secret"  # the worker's NOTIFICATION_WEBHOOK_SECRET (see conftest)


class Receiver:
    """A merchant endpoint: verifies every request's signature and records what it accepted."""

    def __init__(self) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.refused: list[str] = []
        self.app = FastAPI()
        self.app.post("/hooks")(self.hooks)
        self.app.post("/gone")(self.gone)

    async def hooks(self, request: Request) -> Response:
        body = await request.body()
        try:
            verify(SECRET, body, dict(request.headers))
        except InvalidSignature as exc:
            self.refused.append(str(exc))
            return Response(status_code=401)
        self.accepted.append({"headers": dict(request.headers), "json": await request.json()})
        return Response(status_code=204)

    async def gone(self, request: Request) -> Response:
        self.refused.append("gone")
        return Response(status_code=410, content="endpoint removed")


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver()
    server = HttpServer(receiver.app, host="127.0.0.1", port=0, name="receiver")
    await server.start()
    yield receiver, f"http://127.0.0.1:{server.port}"
    await server.stop()


async def test_receiver_verifies_the_signature_when_an_outcome_goes_to_a_webhook(
    start_worker: Callable[..., Any],
    decide_and_dispatch: Callable[..., Any],
    database: Any,
    receiver: tuple[Receiver, str],
) -> None:
    hooks, base = receiver
    await start_worker()
    event = outcome("captured", email="hook@example.com")
    audience = Audience(operator_email="ops@warren.test", webhook_url=f"{base}/hooks")
    created = await decide_and_dispatch(event, envelope_for(event), audience_override=audience)
    webhook_id = notification_id(f"payment.captured:{event.payment_id}", Channel.WEBHOOK, f"{base}/hooks")
    assert webhook_id in created
    assert len(created) == 2

    async def sent() -> bool:
        return (await load(database, webhook_id)).status is Status.SENT

    await wait_for(sent, timeout=60, interval=0.2, message="webhook delivered")
    assert hooks.refused == []
    [request] = hooks.accepted
    assert request["headers"][IDEMPOTENCY_HEADER.lower()] == webhook_id
    assert request["json"]["type"] == "payment.captured.v1"
    assert request["json"]["data"]["payment_id"] == event.payment_id
    assert request["json"]["data"]["amount"] == 12345


async def test_webhook_fails_without_retry_when_the_receiver_answers_4xx(
    start_worker: Callable[..., Any],
    decide_and_dispatch: Callable[..., Any],
    database: Any,
    receiver: tuple[Receiver, str],
) -> None:
    hooks, base = receiver
    await start_worker()
    event = outcome("rejected")
    audience = Audience(operator_email="ops@warren.test", webhook_url=f"{base}/gone")
    await decide_and_dispatch(event, envelope_for(event), audience_override=audience)
    webhook_id = notification_id(f"payment.rejected:{event.payment_id}", Channel.WEBHOOK, f"{base}/gone")

    async def failed() -> bool:
        return (await load(database, webhook_id)).status is Status.FAILED

    await wait_for(failed, timeout=60, interval=0.2, message="webhook failed")
    notification = await load(database, webhook_id)
    assert notification.attempts == 1
    assert notification.last_error is not None
    assert "410" in notification.last_error
    assert hooks.refused == ["gone"]
