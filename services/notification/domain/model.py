"""A notification: what to send, to whom, over which channel, and how its delivery went. No I/O here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

# Fixed namespace: a notification's id is derived from what it is about, so the same outcome always maps to
# the same id (and the same email Message-ID / webhook idempotency key), whoever computes it.
_NAMESPACE = uuid.UUID("1b6f2c0e-3f1a-5b5e-9a53-6e6f74696679")


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class Status(StrEnum):
    PENDING = "pending"  # stored, a delivery task is queued (or scheduled for retry)
    SENDING = "sending"  # a worker claimed it and is talking to the provider
    SENT = "sent"
    FAILED = "failed"  # permanent error or retries exhausted; `last_error` says why


FINAL_STATUSES = frozenset({Status.SENT, Status.FAILED})


def notification_id(dedupe_key: str, channel: Channel, recipient: str) -> str:
    """The stable id of the one notification allowed per outcome, channel and recipient."""
    return str(uuid.uuid5(_NAMESPACE, f"{dedupe_key}|{channel.value}|{recipient.lower()}"))


@dataclass
class Notification:
    id: str
    dedupe_key: str  # what it is about: ``payment.captured:<payment_id>``
    channel: Channel
    recipient: str  # an email address or a webhook URL
    template: str
    subject: str | None
    body_text: str
    body_html: str | None
    correlation_id: str
    created_at: datetime
    status: Status = Status.PENDING
    attempts: int = 0
    last_error: str | None = None
    claimed_by: str | None = None  # the delivery task id holding the claim
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    failed_at: datetime | None = None
    events: list[object] = field(default_factory=list, compare=False)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def can_be_claimed_by(self, task_id: str, now: datetime, lease: timedelta) -> bool:
        """Pending, or already ours (a redelivery after a worker died), or an abandoned claim past its lease."""
        if self.status is Status.PENDING:
            return True
        if self.status is Status.SENDING:
            if self.claimed_by == task_id:
                return True
            return self.claimed_at is None or now - self.claimed_at >= lease
        return False

    def claim(self, task_id: str, now: datetime) -> None:
        self.status = Status.SENDING
        self.claimed_by = task_id
        self.claimed_at = now
        self.attempts += 1

    def record_sent(self, now: datetime) -> None:
        self.status = Status.SENT
        self.sent_at = now
        self.last_error = None

    def record_retry(self, error: str) -> None:
        self.status = Status.PENDING
        self.last_error = error
        self.claimed_by = None

    def record_failure(self, reason: str, now: datetime) -> None:
        self.status = Status.FAILED
        self.last_error = reason
        self.failed_at = now
