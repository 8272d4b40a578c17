"""What happens to a message whose handler failed: classification, the next retry tier, dead-letter headers.

Pure functions over headers, shared by the RabbitMQ runtime and the in-memory test broker so both decide and
annotate exactly alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import ValidationError

from shared.messaging import headers as h
from shared.messaging.errors import PermanentError
from shared.messaging.topology import HandlerQueue

EXHAUSTED_REASON = "retries exhausted"


class FailureClass(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"  # straight to the dead-letter queue
    EXHAUSTED = "exhausted"  # transient, but the last retry tier was used up
    DELIVERY_LIMIT = "delivery-limit"  # dead-lettered by the broker itself (process crash loop)


def classify(exc: BaseException) -> FailureClass:
    """Permanent for :class:`PermanentError` (malformed, unknown type, handler-marked) and pydantic errors."""
    if isinstance(exc, PermanentError | ValidationError):
        return FailureClass.PERMANENT
    return FailureClass.TRANSIENT


def exception_name(exc: BaseException) -> str:
    """``module.QualName`` of the exception's type, e.g. ``pydantic_core._pydantic_core.ValidationError``."""
    kind = type(exc)
    return f"{kind.__module__}.{kind.__qualname__}"


def attempts(headers: Mapping[str, Any]) -> int:
    """Failed deliveries so far, from ``x-warren-attempts`` (0 for a fresh message)."""
    try:
        return int(headers.get(h.ATTEMPTS) or 0)
    except (TypeError, ValueError):
        return 0


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Ack:
    """The handler finished: acknowledge."""


@dataclass(frozen=True)
class Retry:
    """Republish to ``<service>.retry`` with routing key ``queue`` (a retry tier), then ack the original."""

    queue: str
    tier: int
    headers: dict[str, Any]


@dataclass(frozen=True)
class DeadLetter:
    """Republish to ``<service>.dead-letter`` with routing key ``queue`` (the DLQ), then ack the original."""

    queue: str
    failure: FailureClass
    headers: dict[str, Any]


Outcome = Ack | Retry | DeadLetter
ACK = Ack()  # the outcome of nearly every message: one shared instance, not one per message


class Delivery(NamedTuple):
    """Where a message was consumed from and how it reached there (built for every delivery: a tuple)."""

    source_queue: str
    exchange: str
    routing_key: str


def decide(
    exc: Exception,
    queue: HandlerQueue,
    delivery: Delivery,
    headers: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> Retry | DeadLetter:
    """The fate of a message whose handler raised ``exc``, with the headers to republish it with."""
    moment = (now or datetime.now(UTC)).isoformat()
    failed = attempts(headers) + 1
    annotated: dict[str, Any] = {
        **headers,
        h.ATTEMPTS: failed,
        h.FIRST_FAILURE_AT: _text(headers.get(h.FIRST_FAILURE_AT)) or moment,
        h.ORIGINAL_QUEUE: _text(headers.get(h.ORIGINAL_QUEUE)) or delivery.source_queue,
        # The first delivery came through the producer's exchange; later ones come back from a retry tier
        # through the default exchange, so keep the first.
        h.ORIGINAL_EXCHANGE: _text(headers.get(h.ORIGINAL_EXCHANGE)) or delivery.exchange,
        h.ORIGINAL_ROUTING_KEY: _text(headers.get(h.ORIGINAL_ROUTING_KEY)) or delivery.routing_key,
        h.REASON: str(exc)[:500] or type(exc).__name__,
        h.EXCEPTION: exception_name(exc),
        h.SERVICE: queue.service,
        h.HANDLER: queue.handler,
    }
    failure = classify(exc)
    if failure is FailureClass.TRANSIENT and failed <= len(queue.retry_delays):
        tier = failed - 1
        return Retry(queue.retry_queue_name(tier, delivery.source_queue), tier, annotated)
    if failure is FailureClass.TRANSIENT:
        failure = FailureClass.EXHAUSTED
        annotated[h.REASON] = f"{EXHAUSTED_REASON} after {failed} attempts: {annotated[h.REASON]}"
    annotated[h.FAILURE_CLASS] = str(failure)
    annotated[h.DEAD_LETTERED_AT] = moment
    return DeadLetter(queue.dlq_name, failure, annotated)


@dataclass(frozen=True)
class DeadLetterRecord:
    """Why a message sits in a dead-letter queue, whether the runtime or the broker put it there."""

    failure: str
    reason: str
    exception: str | None
    service: str | None
    handler: str | None
    attempts: int
    first_failure_at: str | None
    original_queue: str | None
    original_exchange: str | None
    original_routing_key: str | None


def describe_dead_letter(headers: Mapping[str, Any]) -> DeadLetterRecord:
    """Read a dead-lettered message's annotations; falls back to the broker's ``x-death`` (delivery limit)."""
    failure = _text(headers.get(h.FAILURE_CLASS))
    if failure is not None:
        return DeadLetterRecord(
            failure=failure,
            reason=_text(headers.get(h.REASON)) or "",
            exception=_text(headers.get(h.EXCEPTION)),
            service=_text(headers.get(h.SERVICE)),
            handler=_text(headers.get(h.HANDLER)),
            attempts=attempts(headers),
            first_failure_at=_text(headers.get(h.FIRST_FAILURE_AT)),
            original_queue=_text(headers.get(h.ORIGINAL_QUEUE)),
            original_exchange=_text(headers.get(h.ORIGINAL_EXCHANGE)),
            original_routing_key=_text(headers.get(h.ORIGINAL_ROUTING_KEY)),
        )
    deaths = headers.get(h.X_DEATH) or []
    # The broker puts the most recent death first; retry-tier expiries are deaths too, so skip them.
    death: Mapping[str, Any] = next(
        (d for d in deaths if _text(d.get("reason")) != "expired"), deaths[0] if deaths else {}
    )
    broker_reason = _text(death.get("reason")) or "unknown"
    routing_keys = death.get("routing-keys") or []
    first_time = death.get("time")
    return DeadLetterRecord(
        failure=str(FailureClass.DELIVERY_LIMIT) if broker_reason == "delivery_limit" else broker_reason,
        reason=f"dead-lettered by the broker: {broker_reason}",
        exception=None,
        service=None,
        handler=None,
        attempts=attempts(headers) + int(death.get("count") or 0),
        first_failure_at=_text(headers.get(h.FIRST_FAILURE_AT))
        or (first_time.isoformat() if isinstance(first_time, datetime) else _text(first_time)),
        original_queue=_text(death.get("queue")),
        original_exchange=_text(death.get("exchange")),
        original_routing_key=_text(routing_keys[0]) if routing_keys else None,
    )
