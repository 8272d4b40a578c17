"""The in-memory broker: exchanges, queues and bindings in dicts, handlers run through the production Route."""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractMessage

from shared.contracts.base import Contract
from shared.messaging import headers as h
from shared.messaging import metrics
from shared.messaging.consumer import copy_with_headers
from shared.messaging.declare import CONSISTENT_HASH, TOPIC, differing_arguments, plan
from shared.messaging.dispatch import Handler, Route
from shared.messaging.envelope import Envelope
from shared.messaging.errors import PublishError, TopologyMismatch, UnroutableMessage
from shared.messaging.failure import Ack, DeadLetter, Delivery, Retry, describe_dead_letter
from shared.messaging.topology import HandlerQueue, Topology, topic_matches
from shared.observability.tracing import current_traceparent
from shared.testing.memory_broker.storage import DeadLettered, MemoryDelivery, MemoryQueue, StoredMessage


class MemoryBroker:
    """Exchanges, queues and bindings in a dict; handlers run in the calling task, one message at a time."""

    def __init__(self) -> None:
        self._exchanges: dict[str, tuple[str, dict[str, Any]]] = {}
        self._bindings: list[tuple[str, str, str, bool]] = []  # (source, key, destination, to_exchange)
        self._queues: dict[str, MemoryQueue] = {}
        self._routes: dict[str, Route] = {}  # source queue name -> route
        self._services: dict[str, Topology] = {}
        self._tags = itertools.count(1)
        self.clock = 0.0
        self.handled: list[Envelope] = []  # every envelope a handler finished, in order

    # -- declaring ---------------------------------------------------------------------------------------
    def declare(self, topology: Topology) -> None:
        """Declare ``topology`` like :func:`shared.messaging.declare.declare`; idempotent, mismatch raises."""
        declared = plan(topology)
        for exchange in declared.exchanges:
            existing = self._exchanges.setdefault(exchange.name, (exchange.type, exchange.arguments))
            if existing != (exchange.type, exchange.arguments):
                raise TopologyMismatch(f"exchange {exchange.name!r} exists as {existing}")
        for spec in declared.queues:
            queue = self._queues.setdefault(spec.name, MemoryQueue(spec.name, spec.arguments))
            differences = differing_arguments(spec.arguments, queue.arguments)
            if differences:
                raise TopologyMismatch(f"queue {spec.name!r} exists with different arguments: {differences}")
        for binding in declared.bindings:
            entry = (binding.source, binding.routing_key, binding.destination, binding.to_exchange)
            if entry not in self._bindings:
                self._bindings.append(entry)
        self._services[topology.service] = topology

    def register(self, queue: HandlerQueue, handler: Handler, accepts: Iterable[type[Contract]]) -> None:
        """Route ``queue`` (already declared) to ``handler`` for the contract types in ``accepts``."""
        route = Route.of(queue, handler, accepts)
        for source in queue.source_queues:
            if source not in self._queues:
                raise KeyError(f"queue {source} is not declared; declare the topology first")
            self._routes[source] = route

    # -- publishing --------------------------------------------------------------------------------------
    async def publish(
        self,
        exchange: str,
        envelope: Envelope,
        *,
        routing_key: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> None:
        """Same contract as :meth:`shared.messaging.publisher.Publisher.publish` (mandatory, raises)."""
        if envelope.traceparent is None and (traceparent := current_traceparent()) is not None:
            envelope = envelope.model_copy(update={"traceparent": traceparent})
        key = routing_key if routing_key is not None else envelope.routing_key
        self.publish_message(exchange, key, envelope.to_message(headers))

    def publish_message(self, exchange: str, routing_key: str, message: AbstractMessage) -> None:
        """Route a raw message (a malformed body, say); :class:`UnroutableMessage` if no queue takes it."""
        if exchange and exchange not in self._exchanges:
            raise PublishError(f"no exchange {exchange!r}")
        queues = self._route(exchange, routing_key, message)
        if not queues:
            raise UnroutableMessage(
                f"{message.message_id} to {exchange!r} with key {routing_key!r} was returned"
            )
        for name in queues:
            self._enqueue(self._queues[name], StoredMessage(message, exchange, routing_key))

    def _route(self, exchange: str, routing_key: str, message: AbstractMessage) -> list[str]:
        if not exchange:  # the default exchange: routing key = queue name
            return [routing_key] if routing_key in self._queues else []
        kind, arguments = self._exchanges[exchange]
        bound = [
            (key, dest, to_exchange) for src, key, dest, to_exchange in self._bindings if src == exchange
        ]
        if kind == CONSISTENT_HASH:
            if not bound:
                return []
            header = str((message.headers or {}).get(arguments.get("hash-header", ""), ""))
            key, dest, _ = bound[hash_bucket(header, len(bound))]
            return [dest]
        matched: list[str] = []
        for key, dest, to_exchange in bound:
            hit = topic_matches(key, routing_key) if kind == TOPIC else key == routing_key
            if hit:
                targets = self._route(dest, routing_key, message) if to_exchange else [dest]
                matched.extend(t for t in targets if t not in matched)
        return matched

    def _enqueue(self, queue: MemoryQueue, stored: StoredMessage) -> None:
        stored.expires_at = None if queue.ttl is None else self.clock + queue.ttl
        queue.ready.append(stored)

    def _dead_letter(self, queue: MemoryQueue, stored: StoredMessage, reason: str) -> None:
        exchange = queue.arguments.get("x-dead-letter-exchange")
        if exchange is None:
            return  # no dead-letter route: the broker drops it, and so do we
        death = {
            "count": 1,
            "reason": reason,
            "queue": queue.name,
            "time": datetime.now(UTC),
            "exchange": stored.exchange,
            "routing-keys": [stored.routing_key],
        }
        headers = stored.headers
        headers[h.X_DEATH] = [death, *[d for d in headers.get(h.X_DEATH, []) if d["queue"] != queue.name]]
        key = queue.arguments.get("x-dead-letter-routing-key", stored.routing_key)
        message = copy_with_headers(stored.message, headers)
        for name in self._route(exchange, key, message):
            self._enqueue(self._queues[name], StoredMessage(message, exchange, key))

    def _return(self, queue: MemoryQueue, stored: StoredMessage, *, requeue: bool) -> None:
        if not requeue:
            self._dead_letter(queue, stored, "rejected")
            return
        stored.delivery_count += 1
        limit = queue.arguments.get("x-delivery-limit")
        if limit is not None and stored.delivery_count > limit:
            self._dead_letter(queue, stored, "delivery_limit")
            return
        queue.ready.appendleft(stored)

    # -- consuming ---------------------------------------------------------------------------------------
    def get(self, queue_name: str) -> MemoryDelivery | None:
        """Take the next ready message of a queue (basic.get), unacked until you settle it."""
        queue = self._queues[queue_name]
        if not queue.ready:
            return None
        stored = queue.ready.popleft()
        tag = next(self._tags)
        queue.unacked[tag] = stored
        return MemoryDelivery(self, queue, tag, stored)

    async def run_until_idle(self) -> int:
        """Hand every ready message of a registered queue to its handler until none is left; returns count."""
        handled = 0
        while True:
            source = next((name for name in self._routes if self._queues[name].ready), None)
            if source is None:
                return handled
            delivery = self.get(source)
            assert delivery is not None
            await self._process(self._routes[source], source, delivery)
            handled += 1

    async def _process(self, route: Route, source: str, delivery: MemoryDelivery) -> None:
        stored = delivery.stored
        outcome = await route.process(stored.message, Delivery(source, stored.exchange, stored.routing_key))
        labels = {"service": route.queue.service, "handler": route.queue.handler}
        topology = self._services[route.queue.service]
        if isinstance(outcome, Retry):
            message = copy_with_headers(stored.message, outcome.headers)
            self.publish_message(topology.retry_exchange, outcome.queue, message)
            metrics.RETRIED.labels(**labels, tier=str(outcome.tier + 1)).inc()
        elif isinstance(outcome, DeadLetter):
            message = copy_with_headers(stored.message, outcome.headers)
            self.publish_message(topology.dead_letter_exchange, outcome.queue, message)
            metrics.DEAD_LETTERED.labels(**labels, failure=str(outcome.failure)).inc()
        delivery.ack()
        if isinstance(outcome, Ack):
            metrics.handler_series(route.queue.service, route.queue.handler).acked += 1
            self.handled.append(Envelope.from_message(stored.message))

    async def fast_forward(self, seconds: float | None = None) -> int:
        """Advance the virtual clock (to the last expiry when ``seconds`` is None); expired messages move on."""
        expiries = [m.expires_at for q in self._queues.values() for m in q.ready if m.expires_at is not None]
        if seconds is None:
            self.clock = max([self.clock, *expiries])
        else:
            self.clock += seconds
        moved = 0
        for queue in list(self._queues.values()):
            while (
                queue.ready
                and queue.ready[0].expires_at is not None
                and queue.ready[0].expires_at <= self.clock
            ):
                self._dead_letter(queue, queue.ready.popleft(), "expired")
                moved += 1
        return moved

    async def drain(self, max_rounds: int = 100) -> None:
        """Handle everything, expiring retry tiers as needed, until only acked or dead-lettered remain."""
        for _ in range(max_rounds):
            await self.run_until_idle()
            if not await self.fast_forward():
                return
        raise RuntimeError(f"messages still moving after {max_rounds} rounds: a handler loop?")

    # -- inspecting --------------------------------------------------------------------------------------
    def messages(self, queue_name: str) -> list[AbstractMessage]:
        """The ready messages of a queue, oldest first (not taken)."""
        return [stored.message for stored in self._queues[queue_name].ready]

    def depth(self, queue_name: str) -> int:
        """Ready plus unacked messages of a queue."""
        queue = self._queues[queue_name]
        return len(queue.ready) + len(queue.unacked)

    def dead_letters(self, queue: HandlerQueue | str) -> list[DeadLettered]:
        """What sits in a handler's dead-letter queue (pass the HandlerQueue or the DLQ's name)."""
        name = queue.dlq_name if isinstance(queue, HandlerQueue) else queue
        return [DeadLettered(m, describe_dead_letter(dict(m.headers or {}))) for m in self.messages(name)]


def hash_bucket(key: str, buckets: int) -> int:
    """Which of ``buckets`` equally weighted shards ``key`` lands on (stable across runs)."""
    return zlib.crc32(key.encode()) % buckets
