"""Applying a :class:`~shared.messaging.topology.Topology` to the broker, idempotently, at start-up.

:func:`plan` turns the declaration into the exact exchanges, queues (with their arguments) and bindings;
:func:`declare` applies that plan. Declaring twice is a no-op; declaring over an existing entity with different
arguments raises :class:`TopologyMismatch` naming the entity and every differing argument.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from aio_pika.abc import AbstractConnection
from aiormq.exceptions import ChannelAccessRefused, ChannelPreconditionFailed

from shared.messaging.errors import TopologyMismatch
from shared.messaging.management import ManagementClient
from shared.messaging.topology import HandlerQueue, QueueType, Topology, dead_letter_exchange, retry_exchange

log = logging.getLogger(__name__)

TOPIC = "topic"
DIRECT = "direct"
CONSISTENT_HASH = "x-consistent-hash"


@dataclass(frozen=True)
class ExchangeSpec:
    name: str
    type: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueSpec:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class BindingSpec:
    """``source`` exchange -> ``destination`` queue (or exchange when ``to_exchange``) by ``routing_key``."""

    source: str
    destination: str
    routing_key: str
    to_exchange: bool = False


@dataclass(frozen=True)
class Plan:
    """Everything :func:`declare` creates, in order: exchanges, then queues, then bindings."""

    exchanges: tuple[ExchangeSpec, ...]
    queues: tuple[QueueSpec, ...]
    bindings: tuple[BindingSpec, ...]


def _base_arguments(queue: HandlerQueue) -> dict[str, Any]:
    return {"x-queue-type": str(queue.queue_type)}


def source_queue_arguments(queue: HandlerQueue) -> dict[str, Any]:
    """Arguments of a consumed queue: type, delivery-limit backstop into the DLQ, ordering, length cap."""
    arguments = _base_arguments(queue)
    arguments["x-dead-letter-exchange"] = dead_letter_exchange(queue.service)
    arguments["x-dead-letter-routing-key"] = queue.dlq_name
    if queue.queue_type is QueueType.QUORUM:
        # Only quorum queues count deliveries; it is what stops a process-crashing message looping forever.
        arguments["x-delivery-limit"] = queue.delivery_limit
    if queue.ordered:
        arguments["x-single-active-consumer"] = True
    if queue.max_length is not None:
        arguments["x-max-length"] = queue.max_length
    return arguments


def retry_queue_arguments(queue: HandlerQueue, tier: int, source: str) -> dict[str, Any]:
    """A retry tier: messages wait ``delay``, then dead-letter back to ``source`` through ``<service>.retry``.

    Not through the default exchange: RabbitMQ checks write access to a queue's dead-letter exchange when
    the queue is declared, and a least-privilege service user may write only to its own ``<service>.*``.
    """
    return {
        # Classic: a parking queue with a per-queue TTL needs neither replication nor a delivery limit.
        "x-queue-type": str(QueueType.CLASSIC),
        "x-message-ttl": round(queue.retry_delays[tier] * 1000),
        "x-dead-letter-exchange": retry_exchange(queue.service),
        "x-dead-letter-routing-key": source,
    }


def dead_letter_queue_arguments(queue: HandlerQueue) -> dict[str, Any]:
    """The handler's dead-letter queue: same type as the handler queue, no further dead-lettering."""
    return _base_arguments(queue)


def plan(topology: Topology) -> Plan:
    """The exchanges, queues and bindings ``topology`` stands for (pure; no broker needed)."""
    exchanges: dict[str, ExchangeSpec] = {}

    def add_exchange(spec: ExchangeSpec) -> None:
        exchanges.setdefault(spec.name, spec)

    if topology.publishes:
        add_exchange(ExchangeSpec(topology.exchange, TOPIC))
    if topology.queues:
        add_exchange(ExchangeSpec(topology.retry_exchange, DIRECT))
        add_exchange(ExchangeSpec(topology.dead_letter_exchange, DIRECT))
    for name in topology.consumes_from:
        add_exchange(ExchangeSpec(name, TOPIC))

    queues: list[QueueSpec] = []
    bindings: list[BindingSpec] = []
    for queue in topology.queues:
        for binding in queue.bindings:
            # Declared here too (same type, durable) so a consumer may start before the producer.
            add_exchange(ExchangeSpec(binding.exchange, TOPIC))
        if queue.shards > 1:
            add_exchange(
                ExchangeSpec(queue.hash_exchange, CONSISTENT_HASH, {"hash-header": queue.hash_header})
            )
            for binding in queue.bindings:
                bindings.append(
                    BindingSpec(binding.exchange, queue.hash_exchange, binding.pattern, to_exchange=True)
                )
        for source in queue.source_queues:
            queues.append(QueueSpec(source, source_queue_arguments(queue)))
            if queue.shards > 1:
                # The routing key of a consistent-hash binding is the shard's weight: equal weights.
                bindings.append(BindingSpec(queue.hash_exchange, source, "1"))
            else:
                bindings.extend(BindingSpec(b.exchange, source, b.pattern) for b in queue.bindings)
            # Expired retry-tier messages come back through the retry exchange, keyed by the source's name.
            bindings.append(BindingSpec(topology.retry_exchange, source, source))
            for tier in range(len(queue.retry_delays)):
                retry_name = queue.retry_queue_name(tier, source)
                queues.append(QueueSpec(retry_name, retry_queue_arguments(queue, tier, source)))
                bindings.append(BindingSpec(topology.retry_exchange, retry_name, retry_name))
        queues.append(QueueSpec(queue.dlq_name, dead_letter_queue_arguments(queue)))
        bindings.append(BindingSpec(topology.dead_letter_exchange, queue.dlq_name, queue.dlq_name))
    return Plan(tuple(exchanges.values()), tuple(queues), tuple(bindings))


_INEQUIVALENT = re.compile(
    r"inequivalent arg '(?P<arg>[^']+)' for (?P<kind>queue|exchange) '(?P<name>[^']+)' in vhost '[^']*': "
    r"received (?P<received>.+?) but current is (?P<current>.+)$"
)


def mismatch_from_broker_text(text: str) -> TopologyMismatch | None:
    """Turn RabbitMQ's PRECONDITION_FAILED text into a :class:`TopologyMismatch` (None if it is not one)."""
    match = _INEQUIVALENT.search(text)
    if match is None:
        return None
    return TopologyMismatch(
        f"{match['kind']} {match['name']!r} exists with different arguments: "
        f"{match['arg']}: declared {match['received']}, broker has {match['current']}"
    )


def differing_arguments(declared: dict[str, Any], existing: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{argument: (declared, existing)}`` for every argument whose value differs (missing = None)."""
    differences: dict[str, tuple[Any, Any]] = {}
    for key in sorted(set(declared) | set(existing)):
        mine, theirs = declared.get(key), existing.get(key)
        if key == "x-queue-type" and theirs is None:
            theirs = str(QueueType.CLASSIC)  # a queue declared without the argument is classic
        if mine != theirs:
            differences[key] = (mine, theirs)
    return differences


def _describe(kind: str, name: str, differences: dict[str, tuple[Any, Any]]) -> str:
    parts = ", ".join(
        f"{key}: declared {mine!r}, broker has {theirs!r}" for key, (mine, theirs) in differences.items()
    )
    return f"{kind} {name!r} exists with different arguments: {parts}"


async def _explain(
    management: ManagementClient, vhost: str, spec: QueueSpec | ExchangeSpec, broker_text: str
) -> TopologyMismatch:
    if isinstance(spec, QueueSpec):
        existing = await management.queue(vhost, spec.name)
        differences = differing_arguments(spec.arguments, dict(existing.get("arguments") or {}))
        kind = "queue"
    else:
        existing = next((e for e in await management.exchanges(vhost) if e["name"] == spec.name), {})
        differences = differing_arguments(
            {"type": spec.type, **spec.arguments},
            {"type": existing.get("type"), **dict(existing.get("arguments") or {})},
        )
        kind = "exchange"
    if not differences:
        return mismatch_from_broker_text(broker_text) or TopologyMismatch(broker_text)
    return TopologyMismatch(_describe(kind, spec.name, differences))


def _vhost_of(connection: AbstractConnection) -> str:
    url = getattr(connection, "url", None)  # aio-pika connections have it; the abstract type does not say so
    path = str(url.path).lstrip("/") if url is not None else ""
    return path or "/"


async def _ensure_foreign_exchange(connection: AbstractConnection, spec: ExchangeSpec) -> None:
    """Declare another service's exchange; under a least-privilege user, check it exists instead.

    A service user may configure only its own ``<service>.*`` names (deploy/rabbitmq, docs/operations.md), so
    broker set-up creates every ``<service>.events`` exchange up front and a passive declare suffices.
    """
    channel = await connection.channel()
    try:
        raw = await channel.get_underlay_channel()
        await raw.exchange_declare(
            spec.name, exchange_type=spec.type, durable=True, arguments=spec.arguments or None
        )
    except ChannelAccessRefused:
        channel = await connection.channel()
        raw = await channel.get_underlay_channel()
        await raw.exchange_declare(spec.name, passive=True)
    finally:
        if not channel.is_closed:
            await channel.close()


async def declare(
    connection: AbstractConnection,
    topology: Topology,
    *,
    management: ManagementClient | None = None,
) -> Plan:
    """Declare everything ``topology`` needs (durable, idempotent); :class:`TopologyMismatch` on a conflict."""
    declared = plan(topology)
    own = f"{topology.service}."
    for foreign in (e for e in declared.exchanges if not e.name.startswith(own)):
        await _ensure_foreign_exchange(connection, foreign)
    channel = await connection.channel()
    try:
        raw = await channel.get_underlay_channel()
        spec: QueueSpec | ExchangeSpec | None = None
        try:
            for spec in (e for e in declared.exchanges if e.name.startswith(own)):
                await raw.exchange_declare(
                    spec.name, exchange_type=spec.type, durable=True, arguments=spec.arguments or None
                )
            for spec in declared.queues:
                await raw.queue_declare(spec.name, durable=True, arguments=spec.arguments)
        except ChannelPreconditionFailed as exc:
            text = str(exc)
            assert spec is not None
            if management is not None:
                raise await _explain(management, _vhost_of(connection), spec, text) from exc
            raise (mismatch_from_broker_text(text) or TopologyMismatch(f"{spec.name}: {text}")) from exc
        for binding in declared.bindings:
            if binding.to_exchange:
                await raw.exchange_bind(
                    destination=binding.destination, source=binding.source, routing_key=binding.routing_key
                )
            else:
                await raw.queue_bind(binding.destination, binding.source, routing_key=binding.routing_key)
    finally:
        if not channel.is_closed:
            await channel.close()
    log.info(
        "declared topology of %s: %d exchanges, %d queues, %d bindings",
        topology.service,
        len(declared.exchanges),
        len(declared.queues),
        len(declared.bindings),
    )
    return declared
