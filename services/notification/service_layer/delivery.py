"""Delivering one notification: claim it, send it once, record how it went. Celery calls this per task."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from notification.domain.errors import PermanentDeliveryError, TransientDeliveryError
from notification.domain.model import Notification

log = logging.getLogger(__name__)


class Sender(Protocol):
    """A channel's gateway; raises Transient/PermanentDeliveryError, never anything else on purpose."""

    async def send(self, notification: Notification) -> None: ...


class Store(Protocol):
    async def claim(
        self, notification_id: str, task_id: str, now: datetime, lease: timedelta
    ) -> tuple[Notification | None, bool]: ...

    async def save(self, notification: Notification) -> bool: ...


class Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # permanent error, or the last attempt failed
    RETRY = "retry"  # transient error: the task schedules itself again
    BUSY = "busy"  # another live task holds the claim: try again later, do not send
    ALREADY_FINAL = "already-final"  # a duplicate task: nothing to do
    MISSING = "missing"  # no such notification (its row was never committed, or swept)


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    error: str | None = None
    retry_after: float | None = None
    attempts: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


async def deliver(
    notification_id: str,
    task_id: str,
    *,
    store: Store,
    sender: Sender,
    last_attempt: bool,
    lease: timedelta,
    clock: Callable[[], datetime] = _now,
) -> DeliveryResult:
    """Send ``notification_id`` unless it is final or claimed by another live task.

    Idempotent: a redelivered task (same ``task_id``) re-claims and re-sends with the same Message-ID /
    idempotency key, because a worker killed mid-send cannot know whether the provider got the message.
    """
    notification, claimed = await store.claim(notification_id, task_id, clock(), lease)
    if notification is None:
        return DeliveryResult(Outcome.MISSING)
    if not claimed:
        outcome = Outcome.ALREADY_FINAL if notification.is_final else Outcome.BUSY
        return DeliveryResult(outcome, attempts=notification.attempts)
    try:
        await sender.send(notification)
    except PermanentDeliveryError as exc:
        notification.record_failure(str(exc), clock())
        await store.save(notification)
        log.warning("notification %s failed permanently: %s", notification.id, exc)
        return DeliveryResult(Outcome.FAILED, error=str(exc), attempts=notification.attempts)
    except TransientDeliveryError as exc:
        return await _transient(notification, exc, store, last_attempt, clock)
    except Exception as exc:  # an unclassified error is treated as transient: retried, bounded by attempts
        log.exception("notification %s: unexpected error while sending", notification.id)
        return await _transient(notification, TransientDeliveryError(repr(exc)), store, last_attempt, clock)
    notification.record_sent(clock())
    await store.save(notification)
    return DeliveryResult(Outcome.SENT, attempts=notification.attempts)


async def _transient(
    notification: Notification,
    exc: TransientDeliveryError,
    store: Store,
    last_attempt: bool,
    clock: Callable[[], datetime],
) -> DeliveryResult:
    if last_attempt:
        reason = f"gave up after {notification.attempts} attempts; last error: {exc}"
        notification.record_failure(reason, clock())
        await store.save(notification)
        log.warning("notification %s: %s", notification.id, reason)
        return DeliveryResult(Outcome.FAILED, error=reason, attempts=notification.attempts)
    notification.record_retry(str(exc))
    await store.save(notification)
    return DeliveryResult(
        Outcome.RETRY, error=str(exc), retry_after=exc.retry_after, attempts=notification.attempts
    )
