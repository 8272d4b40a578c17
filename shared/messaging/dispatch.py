"""From an AMQP message to a handler call and back to an outcome (ack, retry tier or dead-letter queue).

Transport-free: the RabbitMQ runtime (:mod:`shared.messaging.consumer`) and the in-memory test broker both
run every delivery through :meth:`Route.process`, so decoding, validation, classification, tracing, metrics
and dead-letter headers are the same in tests and in production.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from time import perf_counter
from typing import Any

from aio_pika.abc import AbstractMessage
from pydantic import ValidationError

from shared.contracts.base import Contract, contract_for
from shared.contracts.codec import ContractViolation
from shared.messaging import metrics
from shared.messaging.envelope import Envelope
from shared.messaging.errors import UnknownMessageType
from shared.messaging.failure import ACK, Delivery, Outcome, decide
from shared.messaging.topology import HandlerQueue
from shared.observability.tracing import consume_span

log = logging.getLogger("shared.messaging.consumer")

Handler = Callable[[Any, Envelope], Awaitable[None]]
"""``async def handle(message: SomeContract, envelope: Envelope) -> None``."""


@dataclass(frozen=True)
class Route:  # not slotted: cached_property keeps the metric series on the instance
    """One handler on its queue, with the contract types it accepts (others are dead-lettered as unknown)."""

    queue: HandlerQueue
    handler: Handler
    accepts: dict[str, type[Contract]] = field(default_factory=dict)

    @classmethod
    def of(cls, queue: HandlerQueue, handler: Handler, accepts: Iterable[type[Contract]]) -> Route:
        """Build a route; ``accepts`` lists contract classes, e.g. ``[PaymentCaptured, PaymentDeclined]``."""
        accepted = {model.message_type: model for model in accepts}
        if not accepted:
            raise ValueError(f"handler {queue.name} accepts no contract type")
        return cls(queue, handler, accepted)

    def model_for(self, message_type: str) -> type[Contract]:
        """The contract to parse ``message_type`` with; :class:`UnknownMessageType` if not accepted."""
        model = self.accepts.get(message_type)
        if model is None:
            contract_for(message_type)  # distinguishes "nobody knows it" from "this handler does not take it"
            raise UnknownMessageType(f"{self.queue.name} does not accept {message_type}")
        return model

    @cached_property
    def _series(self) -> metrics.HandlerSeries:
        return metrics.handler_series(self.queue.service, self.queue.handler)

    async def process(self, message: AbstractMessage, delivery: Delivery) -> Outcome:
        """Decode, validate and handle ``message``; return what to do with it. Never raises an ``Exception``."""
        series = self._series
        series.consumed += 1
        envelope: Envelope | None = None
        started = perf_counter()
        try:
            envelope = Envelope.from_message(message)
            with consume_span(
                envelope.traceparent,
                queue=delivery.source_queue,
                message_type=envelope.type,
                message_id=envelope.message_id,
                correlation_id=envelope.correlation_id,
            ):
                model = self.model_for(envelope.type)
                try:
                    parsed = model.model_validate(envelope.payload)
                except ValidationError as exc:
                    # ContractViolation's text names the fields without echoing their values (no PII in
                    # the dead-letter reason header).
                    raise ContractViolation(envelope.type, exc) from exc
                await self.handler(parsed, envelope)
        except Exception as exc:
            return self._failed(exc, message, envelope, delivery)
        finally:  # also when cancelled (a stop past its grace): the time spent still counts
            series.observe(perf_counter() - started)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "handled %s message_id=%s correlation_id=%s",
                envelope.type,
                envelope.message_id,
                envelope.correlation_id,
                extra={"message_id": str(envelope.message_id), "correlation_id": envelope.correlation_id},
            )
        return ACK

    def _failed(
        self, exc: Exception, message: AbstractMessage, envelope: Envelope | None, delivery: Delivery
    ) -> Outcome:
        outcome = decide(exc, self.queue, delivery, dict(message.headers or {}))
        log.warning(
            "handler %s failed on %s message_id=%s correlation_id=%s: %s: %s -> %s",
            self.queue.name,
            envelope.type if envelope else message.type,
            message.message_id,
            message.correlation_id,
            type(exc).__name__,
            exc,
            type(outcome).__name__.lower(),
            extra={"message_id": message.message_id, "correlation_id": message.correlation_id},
            exc_info=not isinstance(exc, UnknownMessageType),
        )
        return outcome
