"""What the in-memory broker stores: messages in queues, deliveries to settle, dead letters to read."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aio_pika.abc import AbstractMessage

from shared.messaging.failure import DeadLetterRecord

if TYPE_CHECKING:
    from shared.testing.memory_broker.broker import MemoryBroker


@dataclass
class StoredMessage:
    """A message sitting in a queue, with how it got there."""

    message: AbstractMessage
    exchange: str
    routing_key: str
    delivery_count: int = 0
    expires_at: float | None = None  # on the broker's virtual clock (retry tiers)

    @property
    def headers(self) -> dict[str, Any]:
        return dict(self.message.headers or {})


@dataclass
class MemoryQueue:
    name: str
    arguments: dict[str, Any]
    ready: deque[StoredMessage] = field(default_factory=deque)
    unacked: dict[int, StoredMessage] = field(default_factory=dict)

    @property
    def ttl(self) -> float | None:
        ttl = self.arguments.get("x-message-ttl")
        return None if ttl is None else ttl / 1000


@dataclass(frozen=True)
class DeadLettered:
    """A message in a dead-letter queue: the message itself and why it is there."""

    message: AbstractMessage
    record: DeadLetterRecord

    @property
    def message_id(self) -> str | None:
        return self.message.message_id

    @property
    def headers(self) -> dict[str, Any]:
        return dict(self.message.headers or {})


class MemoryDelivery:
    """A message taken with :meth:`MemoryBroker.get`: settle it with ack, nack or reject, like AMQP."""

    def __init__(self, broker: MemoryBroker, queue: MemoryQueue, tag: int, stored: StoredMessage) -> None:
        self._broker, self._queue, self._tag, self.stored = broker, queue, tag, stored

    @property
    def message(self) -> AbstractMessage:
        return self.stored.message

    def ack(self) -> None:
        """Remove the message for good."""
        self._queue.unacked.pop(self._tag)

    def nack(self, requeue: bool = True) -> None:
        """Return it to the queue (counting a delivery) or, without requeue, dead-letter it."""
        stored = self._queue.unacked.pop(self._tag)
        self._broker._return(self._queue, stored, requeue=requeue)

    def reject(self, requeue: bool = False) -> None:
        """Like :meth:`nack` for one message; default: dead-letter through the queue's DLX."""
        self.nack(requeue=requeue)
