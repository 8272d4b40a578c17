from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from notification.domain.errors import PermanentDeliveryError, TransientDeliveryError
from notification.domain.model import Channel, Notification, Status
from notification.service_layer.backoff import retry_delay
from notification.service_layer.delivery import Outcome, deliver
from notification.tests.unit.fakes import FakeStore, RecordingSender

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def notification(**changes: object) -> Notification:
    base = Notification(
        id="n1",
        dedupe_key="payment.captured:p1",
        channel=Channel.EMAIL,
        recipient="ada@example.com",
        template="payment_captured",
        subject="s",
        body_text="t",
        body_html=None,
        correlation_id="c",
        created_at=NOW,
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


async def run(store: FakeStore, sender: RecordingSender, task_id: str = "t1", last: bool = False) -> Outcome:
    result = await deliver(
        "n1", task_id, store=store, sender=sender, last_attempt=last, lease=LEASE, clock=lambda: NOW
    )
    return result.outcome


async def test_sent_once_when_the_same_task_arrives_twice() -> None:
    store, sender = FakeStore(notification()), RecordingSender()
    assert await run(store, sender) is Outcome.SENT
    assert await run(store, sender, task_id="t2") is Outcome.ALREADY_FINAL
    assert sender.sent == ["n1"]
    assert store.rows["n1"].status is Status.SENT


async def test_redelivered_task_resends_when_its_worker_died_mid_send() -> None:
    store = FakeStore(notification(status=Status.SENDING, claimed_by="t1", claimed_at=NOW, attempts=1))
    sender = RecordingSender()
    assert await run(store, sender, task_id="t1") is Outcome.SENT
    assert store.rows["n1"].attempts == 2


async def test_another_task_waits_when_a_live_claim_exists() -> None:
    store = FakeStore(notification(status=Status.SENDING, claimed_by="t1", claimed_at=NOW, attempts=1))
    sender = RecordingSender()
    assert await run(store, sender, task_id="t2") is Outcome.BUSY
    assert sender.sent == []


async def test_abandoned_claim_is_taken_over_when_its_lease_expired() -> None:
    store = FakeStore(
        notification(status=Status.SENDING, claimed_by="t1", claimed_at=NOW - LEASE - timedelta(seconds=1))
    )
    assert await run(store, RecordingSender(), task_id="t2") is Outcome.SENT


async def test_notification_fails_with_its_reason_when_the_error_is_permanent() -> None:
    store = FakeStore(notification())
    outcome = await run(store, RecordingSender(PermanentDeliveryError("SMTP 550 no such user")))
    assert outcome is Outcome.FAILED
    assert store.rows["n1"].status is Status.FAILED
    assert store.rows["n1"].last_error == "SMTP 550 no such user"


async def test_notification_is_retried_when_the_error_is_transient() -> None:
    store = FakeStore(notification())
    assert await run(store, RecordingSender(TransientDeliveryError("down"))) is Outcome.RETRY
    assert store.rows["n1"].status is Status.PENDING
    assert store.rows["n1"].last_error == "down"
    assert await run(store, RecordingSender()) is Outcome.SENT
    assert store.rows["n1"].attempts == 2


async def test_notification_fails_when_the_last_attempt_is_transient_too() -> None:
    store = FakeStore(notification(attempts=4))
    assert await run(store, RecordingSender(TransientDeliveryError("down")), last=True) is Outcome.FAILED
    assert store.rows["n1"].last_error == "gave up after 5 attempts; last error: down"


async def test_unexpected_error_is_retried_when_not_classified() -> None:
    store = FakeStore(notification())
    assert await run(store, RecordingSender(RuntimeError("bug"))) is Outcome.RETRY


async def test_missing_notification_is_reported_when_its_row_does_not_exist() -> None:
    assert await run(FakeStore(), RecordingSender()) is Outcome.MISSING


@pytest.mark.parametrize("retries", range(12))
def test_retry_delay_grows_within_bounds_when_retries_accumulate(retries: int) -> None:
    rng = random.Random(retries)
    delay = retry_delay(retries, base=2, cap=300, rng=rng)
    ceiling = min(300, 2 * 2**retries)
    assert max(1, ceiling / 2) <= delay <= ceiling + 1
    assert isinstance(delay, int)


def test_retry_delay_honours_retry_after_up_to_the_cap_when_given() -> None:
    assert retry_delay(0, base=1, cap=60, retry_after=30) == 30
    assert retry_delay(0, base=1, cap=60, retry_after=3600) == 60
    assert retry_delay(0, base=0.1, cap=0.2) == 1
