"""Email delivery through a real Celery worker, real RabbitMQ (own vhost), PostgreSQL and the mail sink."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from celery import Celery
from sqlalchemy.ext.asyncio import AsyncEngine

from mailsink.server import MailSink
from notification.domain.model import Status
from notification.service_layer.tasks import DELIVER_TASK, QUEUE
from notification.tests.factories import OUTCOMES, envelope_for, outcome
from notification.tests.harness import load, sink_messages
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration

EXPECTED_SUBJECT = {
    "captured": "Payment received: 123.45 EUR",
    "declined": "Payment declined: 123.45 EUR",
    "rejected": "could not be accepted",
    "cancelled": "cancelled: items out of stock",
    "failed": "could not be completed",
}


async def test_each_payment_outcome_sends_exactly_one_email_when_the_event_arrives_twice(
    start_worker: Callable[..., Any],
    decide_and_dispatch: Callable[..., Any],
    database: AsyncEngine,
    producer: Celery,
    sink: MailSink,
) -> None:
    worker = await start_worker()
    events = {kind: outcome(kind, email=f"{kind}@example.com") for kind in OUTCOMES}
    ids: dict[str, str] = {}
    for kind, event in events.items():
        envelope = envelope_for(event)
        [ids[kind]] = await decide_and_dispatch(event, envelope)
        # The same event again (a redelivery) and the same outcome under a new message id: nothing new.
        assert await decide_and_dispatch(event, envelope) == []
        assert await decide_and_dispatch(event, envelope_for(event)) == []
    # A duplicated task message for one of them must not send twice either.
    await asyncio.to_thread(
        producer.send_task, DELIVER_TASK["email"], args=[ids["captured"]], queue=QUEUE["email"]
    )

    async def all_sent() -> bool:
        statuses = [(await load(database, nid)).status for nid in ids.values()]
        return all(status is Status.SENT for status in statuses)

    await wait_for(all_sent, timeout=60, interval=0.2, message="every notification sent")
    # The duplicated task ran too and found the notification already sent.
    await wait_for(lambda: "'already-final'" in worker.log(), timeout=30, message="duplicate task finished")
    messages = await sink_messages(sink)
    assert len(messages) == len(OUTCOMES), [m["subject"] for m in messages]
    by_recipient = {m["rcpt_to"][0]: m for m in messages}
    for kind, event in events.items():
        message = by_recipient[f"{kind}@example.com"]
        assert EXPECTED_SUBJECT[kind] in message["subject"]
        assert event.order_id in message["subject"] or event.order_id in message["text"]
        assert "123.45 EUR" in message["text"]
        assert "123.45 EUR" in message["html"]
        assert message["message_id"] == f"<{ids[kind]}@notification.warren.local>"
        assert message["to"] == f"{kind}@example.com"
    assert "ch_123" in by_recipient["captured@example.com"]["text"]
