"""Declarative topology: what exchanges, queues and bindings a service owns, and how they are named.

Names (STYLE.md):
  ``<service>.events``               topic exchange a service publishes its facts to
  ``<service>.<handler>``            one durable queue per consumer handler
  ``<queue>.retry.<n>.<delay>``      retry tier n: a TTL queue that dead-letters back to ``<queue>``
  ``<queue>.dlq``                    the handler's dead-letter queue
  ``<queue>.hash`` + ``<queue>.shard.<i>``  per-key ordering over several queues (consistent-hash exchange)
  ``<service>.retry`` / ``<service>.dead-letter``  direct exchanges the consumer runtime publishes
                                     failed messages to (owned by the service, so least-privilege works)

Applying a topology to a broker lives in :mod:`shared.messaging.declare`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from shared.messaging.headers import ORDERING_KEY

DEFAULT_RETRY_DELAYS: tuple[float, ...] = (1.0, 10.0, 60.0, 600.0)


class QueueType(StrEnum):
    QUORUM = "quorum"
    CLASSIC = "classic"


def events_exchange(service: str) -> str:
    """The topic exchange ``service`` publishes its events to."""
    return f"{service}.events"


def retry_exchange(service: str) -> str:
    """The direct exchange the runtime publishes to-be-retried messages to (key = retry queue name)."""
    return f"{service}.retry"


def dead_letter_exchange(service: str) -> str:
    """The direct exchange dead-lettered messages go to (key = dead-letter queue name)."""
    return f"{service}.dead-letter"


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching, as the broker does it: ``*`` is exactly one word, ``#`` zero or more words."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    if pattern[0] == "#":
        return any(_match(pattern[1:], words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return pattern[0] in ("*", words[0]) and _match(pattern[1:], words[1:])


def _delay_label(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{int(seconds * 1000)}ms"


@dataclass(frozen=True)
class Binding:
    """Bind a handler queue to ``exchange`` with a topic pattern (``payment.*``, ``payment.captured``)."""

    exchange: str
    pattern: str


@dataclass(frozen=True)
class HandlerQueue:
    """One consumer handler's queue with its retry tiers and dead-letter queue."""

    service: str
    handler: str
    bindings: tuple[Binding, ...]
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    queue_type: QueueType = QueueType.QUORUM
    # Broker-side backstop: a message redelivered this often (a handler crashing the process) is
    # dead-lettered by RabbitMQ itself, so a poison message cannot loop forever.
    delivery_limit: int = 20
    prefetch: int = 32
    # Per-key ordering (docs/messaging.md): ``single_active_consumer`` makes one consumer (across every
    # instance) take the queue and handle one message at a time; ``shards`` > 1 spreads keys over that many
    # single-active-consumer queues behind a consistent-hash exchange that hashes ``hash_header``.
    single_active_consumer: bool = False
    shards: int = 1
    hash_header: str = ORDERING_KEY
    max_length: int | None = None

    def __post_init__(self) -> None:
        if self.shards < 1:
            raise ValueError(f"{self.name}: shards must be >= 1, got {self.shards}")
        if self.prefetch < 1:
            raise ValueError(f"{self.name}: prefetch must be >= 1, got {self.prefetch}")
        if any(delay <= 0 for delay in self.retry_delays):
            raise ValueError(f"{self.name}: retry delays must be positive, got {self.retry_delays}")

    @property
    def ordered(self) -> bool:
        """Messages are handled one at a time per queue, in queue order."""
        return self.single_active_consumer or self.shards > 1

    @property
    def name(self) -> str:
        return f"{self.service}.{self.handler}"

    @property
    def dlq_name(self) -> str:
        return f"{self.name}.dlq"

    @property
    def hash_exchange(self) -> str:
        """The consistent-hash exchange in front of the shards (only when ``shards`` > 1)."""
        return f"{self.name}.hash"

    @property
    def source_queues(self) -> tuple[str, ...]:
        """The queues consumers read: the handler queue, or its shards ``<queue>.shard.<i>``."""
        if self.shards == 1:
            return (self.name,)
        return tuple(f"{self.name}.shard.{i + 1}" for i in range(self.shards))

    def retry_queue_name(self, tier: int, source: str | None = None) -> str:
        """Name of retry tier ``tier`` (0-based) of ``source`` (default the queue): ``payment.on_fraud.retry.2.10s``."""
        return f"{source or self.name}.retry.{tier + 1}.{_delay_label(self.retry_delays[tier])}"

    @property
    def retry_queue_names(self) -> tuple[str, ...]:
        """Every retry tier queue, of every source queue."""
        return tuple(
            self.retry_queue_name(tier, source)
            for source in self.source_queues
            for tier in range(len(self.retry_delays))
        )


@dataclass(frozen=True)
class Topology:
    """Everything one service declares: the exchanges it publishes to and its handler queues."""

    service: str
    publishes: bool = True
    queues: tuple[HandlerQueue, ...] = ()
    # Exchanges of other services this one binds to; declared passively-compatible (same type, durable)
    # so start-up order between services does not matter.
    consumes_from: tuple[str, ...] = field(default=())

    @property
    def exchange(self) -> str:
        return events_exchange(self.service)

    @property
    def retry_exchange(self) -> str:
        return retry_exchange(self.service)

    @property
    def dead_letter_exchange(self) -> str:
        return dead_letter_exchange(self.service)

    def queue(self, handler: str) -> HandlerQueue:
        for queue in self.queues:
            if queue.handler == handler:
                return queue
        raise KeyError(f"{self.service} declares no handler queue {handler!r}")


def handler_queue(
    service: str,
    handler: str,
    patterns: Sequence[tuple[str, str]],
    **options: object,
) -> HandlerQueue:
    """Shorthand: ``handler_queue("payment", "on_fraud", [("fraud.events", "fraud.assessed")])``."""
    bindings = tuple(Binding(exchange, pattern) for exchange, pattern in patterns)
    return HandlerQueue(service=service, handler=handler, bindings=bindings, **options)  # type: ignore[arg-type]
