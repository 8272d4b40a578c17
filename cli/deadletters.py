"""Dead-letter queues, seen and repaired by an operator: read, filter, replay to the original queue, purge.

A dead letter keeps the envelope it had (message id, type, correlation id, headers, body). Replay publishes
that same message, with the same ``message_id``, straight back to the queue it failed in, through the default
exchange, so only that one consumer sees it again and its inbox still deduplicates. The dead-letter copy is
acknowledged only after the broker confirmed the replayed one: a crash mid-replay duplicates, never loses.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from shared.messaging import headers as h
from shared.messaging.failure import describe_dead_letter

DLQ_SUFFIX = ".dlq"
REPLAYS = "x-warren-replays"
REPLAYED_AT = "x-warren-replayed-at"
# Annotations that describe the failure being replayed; the replayed message starts its retries afresh.
_FAILURE_HEADERS = {
    h.ATTEMPTS,
    h.FIRST_FAILURE_AT,
    h.REASON,
    h.EXCEPTION,
    h.FAILURE_CLASS,
    h.DEAD_LETTERED_AT,
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = _text(value)
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class DeadLetter:
    """One message in a dead-letter queue, with where it came from and why it is here."""

    queue: str
    message_id: str | None
    type: str | None
    reason: str
    failure: str | None
    attempts: int | None
    dead_lettered_at: datetime | None
    original_queue: str
    headers: dict[str, Any]
    body: bytes
    properties: dict[str, Any] = field(default_factory=dict)

    def age(self, now: datetime | None = None) -> timedelta | None:
        if self.dead_lettered_at is None:
            return None
        return (now or datetime.now(UTC)) - self.dead_lettered_at

    @classmethod
    def from_message(cls, queue: str, message: AbstractIncomingMessage) -> DeadLetter:
        headers = dict(message.headers or {})
        # The runtime's own reading of its annotations (or of the broker's x-death): one interpretation.
        record = describe_dead_letter(headers)
        deaths = headers.get("x-death") or []
        broker_time = dict(deaths[0]).get("time") if deaths else None
        when = _time(headers.get(h.DEAD_LETTERED_AT)) or _time(broker_time) or _time(message.timestamp)
        return cls(
            queue=queue,
            message_id=message.message_id,
            type=message.type,
            reason=record.reason or "unknown",
            failure=record.failure,
            attempts=record.attempts,
            dead_lettered_at=when,
            original_queue=record.original_queue or queue.removesuffix(DLQ_SUFFIX),
            headers=headers,
            body=message.body,
            properties={
                "correlation_id": message.correlation_id,
                "app_id": message.app_id,
                "content_type": message.content_type,
                "timestamp": message.timestamp,
            },
        )


@dataclass(frozen=True)
class Selection:
    """Which dead letters an operation touches; every given criterion must hold."""

    message_ids: frozenset[str] = frozenset()
    type_pattern: str | None = None  # glob: payment.* or payment.requested.v1
    reason: str | None = None  # case-insensitive substring
    older_than: timedelta | None = None
    newer_than: timedelta | None = None

    def matches(self, letter: DeadLetter, now: datetime) -> bool:
        if self.message_ids and letter.message_id not in self.message_ids:
            return False
        if self.type_pattern and not fnmatch.fnmatchcase(letter.type or "", self.type_pattern):
            return False
        if self.reason and self.reason.lower() not in letter.reason.lower():
            return False
        age = letter.age(now)
        if self.older_than is not None and (age is None or age < self.older_than):
            return False
        return not (self.newer_than is not None and (age is None or age > self.newer_than))


async def _drain(
    channel: AbstractChannel, queue: str, limit: int | None
) -> list[tuple[AbstractIncomingMessage, DeadLetter]]:
    """Take up to ``limit`` messages unacknowledged; closing the channel returns whatever is not acked."""
    broker_queue = await channel.get_queue(queue, ensure=False)
    taken: list[tuple[AbstractIncomingMessage, DeadLetter]] = []
    while limit is None or len(taken) < limit:
        message = await broker_queue.get(no_ack=False, fail=False)
        if message is None:
            break
        taken.append((message, DeadLetter.from_message(queue, message)))
    return taken


async def read(
    connection: aio_pika.abc.AbstractConnection, queue: str, *, limit: int | None = 100
) -> list[DeadLetter]:
    """The first ``limit`` dead letters of ``queue``, left in the queue."""
    channel = await connection.channel()
    try:
        return [letter for _, letter in await _drain(channel, queue, limit)]
    finally:
        await channel.close()  # unacked messages go back to the queue


def replay_message(letter: DeadLetter, now: datetime) -> aio_pika.Message:
    """The message to publish back: same id, type, correlation and body; failure annotations dropped."""
    headers = {k: v for k, v in letter.headers.items() if k not in _FAILURE_HEADERS}
    headers[REPLAYS] = int(letter.headers.get(REPLAYS, 0) or 0) + 1
    headers[REPLAYED_AT] = now.isoformat()
    props = letter.properties
    return aio_pika.Message(
        body=letter.body,
        message_id=letter.message_id,
        type=letter.type,
        correlation_id=props.get("correlation_id"),
        app_id=props.get("app_id"),
        content_type=props.get("content_type"),
        timestamp=props.get("timestamp"),
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers=headers,
    )


async def replay(
    connection: aio_pika.abc.AbstractConnection,
    queue: str,
    selection: Selection,
    *,
    on_replayed: Callable[[DeadLetter], None] | None = None,
) -> list[DeadLetter]:
    """Publish every selected dead letter of ``queue`` back to its original queue; return those replayed."""
    now = datetime.now(UTC)
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    replayed: list[DeadLetter] = []
    try:
        for message, letter in await _drain(channel, queue, None):
            if not selection.matches(letter, now):
                continue
            # Default exchange, routing key = queue name: straight back into the queue it failed in.
            await channel.default_exchange.publish(
                replay_message(letter, now), routing_key=letter.original_queue, mandatory=True
            )
            await message.ack()
            replayed.append(letter)
            if on_replayed is not None:
                on_replayed(letter)
    finally:
        await channel.close()  # everything not replayed goes back to the dead-letter queue
    return replayed


async def purge(connection: aio_pika.abc.AbstractConnection, queue: str) -> int:
    """Delete every message of ``queue``; returns how many there were."""
    channel = await connection.channel()
    try:
        broker_queue = await channel.get_queue(queue, ensure=False)
        result = await broker_queue.purge()
        return int(result.message_count or 0)
    finally:
        await channel.close()
