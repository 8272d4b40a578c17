"""Delivery under faults: a worker killed mid-send, the mail server down for a while, a bad address."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mailsink.server import MailSink
from notification.domain.model import Status
from notification.tests.factories import envelope_for, outcome
from notification.tests.harness import load, sink_messages
from shared.messaging.management import ManagementClient
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("victim", ["pool process", "whole worker"])
async def test_exactly_one_email_when_the_worker_is_killed_mid_send(
    victim: str,
    start_worker: Callable[..., Any],
    decide_and_dispatch: Callable[..., Any],
    database: AsyncEngine,
    sink: MailSink,
) -> None:
    worker = await start_worker()
    release = asyncio.Event()
    abandoned = asyncio.Event()

    async def hold_first_delivery(envelope: object) -> None:
        if release.is_set():
            return
        try:
            await release.wait()
        except asyncio.CancelledError:  # the sender vanished before our 250 reply
            abandoned.set()
            raise

    sink.handler.before_accept = hold_first_delivery
    event = outcome("captured", email="kill@example.com")
    [nid] = await decide_and_dispatch(event, envelope_for(event))

    await asyncio.wait_for(sink.handler.data_started.wait(), timeout=30)
    if victim == "pool process":
        # The child dies mid-SMTP; the parent sees WorkerLostError and rejects the message back to the queue.
        [child] = worker.children()
        os.kill(child, signal.SIGKILL)
    else:
        # The whole worker (parent and child, like a killed container): the broker requeues on connection loss.
        os.killpg(worker.process.pid, signal.SIGKILL)
    await asyncio.wait_for(abandoned.wait(), timeout=10)
    release.set()
    if victim == "whole worker":
        await start_worker()

    async def sent() -> bool:
        return (await load(database, nid)).status is Status.SENT

    await wait_for(sent, timeout=90, interval=0.2, message="redelivered task sent the email")
    notification = await load(database, nid)
    assert notification.attempts == 2  # the killed attempt and the redelivered one
    messages = await sink_messages(sink)
    assert [m["rcpt_to"] for m in messages] == [["kill@example.com"]]
    assert messages[0]["message_id"] == f"<{nid}@notification.warren.local>"
    if victim == "pool process":
        assert "WorkerLostError" in worker.log()


async def test_delivery_retries_then_succeeds_when_the_mail_server_is_down_for_a_while(
    start_worker: Callable[..., Any],
    decide_and_dispatch: Callable[..., Any],
    database: AsyncEngine,
    sink: MailSink,
) -> None:
    await start_worker()
    await sink.stop_smtp()
    event = outcome("declined", email="later@example.com")
    [nid] = await decide_and_dispatch(event, envelope_for(event))

    errors: list[str] = []

    async def breaker_opened_after_retries() -> bool:
        notification = await load(database, nid)
        if notification.last_error and notification.last_error not in errors:
            errors.append(notification.last_error)
        # More than Celery's default max_retries (3): the service, not Celery, bounds the attempts.
        return notification.attempts >= 5 and any("circuit open" in error for error in errors)

    await wait_for(
        breaker_opened_after_retries, timeout=60, interval=0.1, message="retries, then open breaker"
    )
    # Not given up: waiting for its next retry, or a retry has just claimed it and is being refused.
    assert (await load(database, nid)).status in {Status.PENDING, Status.SENDING}
    assert any("unreachable" in error for error in errors)  # real attempts before the breaker opened

    await sink.start_smtp()  # same port: the mail server is back

    async def sent() -> bool:
        return (await load(database, nid)).status is Status.SENT

    await wait_for(sent, timeout=60, interval=0.2, message="delivered after the outage")
    messages = await sink_messages(sink)
    assert [m["rcpt_to"] for m in messages] == [["later@example.com"]]


async def test_bad_address_fails_once_with_its_reason_when_the_server_refuses_it(
    start_worker: Callable[..., Any],
    decide_and_dispatch: Callable[..., Any],
    database: AsyncEngine,
    sink: MailSink,
    rabbit_admin: ManagementClient,
    vhost: str,
) -> None:
    worker = await start_worker()
    event = outcome("captured", email="nobody@example.invalid")
    [nid] = await decide_and_dispatch(event, envelope_for(event))

    async def failed() -> bool:
        return (await load(database, nid)).status is Status.FAILED

    await wait_for(failed, timeout=60, interval=0.2, message="notification failed")
    notification = await load(database, nid)
    assert notification.attempts == 1
    assert notification.last_error is not None
    assert notification.last_error.startswith("SMTP 550")
    assert "nobody@example.invalid" in notification.last_error
    # No retry storm: the task finished, nothing is waiting to run again, and the server saw one attempt.
    await wait_for(lambda: "'failed'" in worker.log(), timeout=30, message="task finished as failed")

    async def nothing_scheduled() -> bool:
        queues = await rabbit_admin.queues(vhost)
        return sum(q.get("messages", 0) for q in queues) == 0

    await wait_for(nothing_scheduled, timeout=30, interval=0.5, message="no retry left in the broker")
    assert [r.address for r in sink.handler.rejections] == ["nobody@example.invalid"]
    assert await sink_messages(sink) == []


async def test_notification_fails_with_the_last_error_when_attempts_are_exhausted(
    start_worker: Callable[..., Any],
    decide_and_dispatch: Callable[..., Any],
    database: AsyncEngine,
    sink: MailSink,
) -> None:
    await start_worker(NOTIFICATION_MAX_ATTEMPTS="2")
    await sink.stop_smtp()
    event = outcome("cancelled", email="never@example.com")
    [nid] = await decide_and_dispatch(event, envelope_for(event))

    async def failed() -> bool:
        return (await load(database, nid)).status is Status.FAILED

    await wait_for(failed, timeout=60, interval=0.2, message="notification gave up")
    notification = await load(database, nid)
    assert notification.attempts == 2
    assert notification.last_error is not None
    assert notification.last_error.startswith("gave up after 2 attempts; last error: SMTP 127.0.0.1")
