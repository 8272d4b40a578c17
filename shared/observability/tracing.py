"""W3C trace context across messages, with the OpenTelemetry API.

A publisher stamps the current context into the envelope's ``traceparent``; a consumer continues that trace
in a CONSUMER span around its handler. Without a configured SDK every call here is a cheap no-op.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACER_NAME = "warren.messaging"
_PROPAGATOR = TraceContextTextMapPropagator()


def current_traceparent() -> str | None:
    """The active span's context as a ``traceparent`` value, or None when nothing is being traced."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def context_from(traceparent: str | None) -> context.Context:
    """An OpenTelemetry context continuing ``traceparent`` (an empty context when it is None or invalid)."""
    if not traceparent:
        return context.Context()
    return _PROPAGATOR.extract({"traceparent": traceparent})


@contextmanager
def consume_span(
    traceparent: str | None, *, queue: str, message_type: str, message_id: str, correlation_id: str
) -> Iterator[Span]:
    """Run the block in a CONSUMER span that continues the producer's trace; errors mark the span."""
    tracer = trace.get_tracer(TRACER_NAME)
    attributes = {
        "messaging.system": "rabbitmq",
        "messaging.operation": "process",
        "messaging.destination.name": queue,
        "messaging.message.id": message_id,
        "messaging.message.conversation_id": correlation_id,
        "warren.message_type": message_type,
    }
    with tracer.start_as_current_span(
        f"{queue} process",
        context=context_from(traceparent),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
        record_exception=True,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except Exception as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
