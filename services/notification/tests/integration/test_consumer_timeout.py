"""RabbitMQ's consumer_timeout vs retry countdowns: a scheduled retry must wait in the broker, not in a worker.

A Celery worker that holds an ETA message unacked past ``consumer_timeout`` (30 min by default) has its
channel closed by RabbitMQ. With quorum queues the retry goes to the native delayed-delivery queues instead;
this test proves that while a retry is pending the worker holds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mailsink.server import MailSink
from notification.domain.model import Status
from notification.tests.factories import envelope_for, outcome
from notification.tests.harness import load
from shared.messaging.management import ManagementClient
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration


async def test_retry_waits_in_the_broker_not_in_the_worker_when_a_countdown_is_scheduled(
    start_worker: Callable[..., Any],
    decide_and_dispatch: Callable[..., Any],
    database: AsyncEngine,
    sink: MailSink,
    rabbit_admin: ManagementClient,
    vhost: str,
) -> None:
    # Countdowns of 30-60 s: long enough to look at the broker while the retry is pending.
    await start_worker(NOTIFICATION_RETRY_BASE_SECONDS="60", NOTIFICATION_RETRY_MAX_SECONDS="60")
    await sink.stop_smtp()
    event = outcome("failed", email="patient@example.com")
    [nid] = await decide_and_dispatch(event, envelope_for(event))

    async def first_attempt_failed() -> bool:
        notification = await load(database, nid)
        return notification.attempts == 1 and notification.status is Status.PENDING

    await wait_for(first_attempt_failed, timeout=60, interval=0.2, message="first attempt failed")

    async def parked_in_delayed_delivery() -> dict[str, Any] | None:
        queues = {q["name"]: q for q in await rabbit_admin.queues(vhost)}
        email = queues["notifications.email"]
        delayed = {
            name: q.get("messages", 0) for name, q in queues.items() if name.startswith("celery_delayed_")
        }
        if (
            email.get("messages_unacknowledged", 1) == 0
            and email.get("messages", 1) == 0
            and sum(delayed.values()) == 1
        ):
            return {"email": email, "delayed": delayed}
        return None

    # Management statistics refresh every few seconds, hence the generous deadline.
    state = await wait_for(
        parked_in_delayed_delivery, timeout=30, interval=0.5, message="retry parked in broker"
    )
    assert state["email"]["arguments"]["x-queue-type"] == "quorum"
    assert (await load(database, nid)).attempts == 1  # nothing ran meanwhile
