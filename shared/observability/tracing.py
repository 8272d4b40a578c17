"""W3C trace context across messages, with the OpenTelemetry API.

A publisher stamps the current context into the envelope's ``traceparent``; a consumer continues that trace
in a CONSUMER span around its handler. Without a configured SDK every call here is a cheap no-op.
"""

from __future__ import annotations

from opentelemetry import context, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACER_NAME = "warren.messaging"
_PROPAGATOR = TraceContextTextMapPropagator()
# A proxy tracer: it follows whatever provider is configured later, so fetching it once is safe.
_TRACER = trace.get_tracer(TRACER_NAME)


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


class consume_span:
    """Run the block in a CONSUMER span that continues the producer's trace; errors mark the span.

    A class rather than ``start_as_current_span``: this runs once per message, and the nested generator
    context managers of the convenience API cost more than the handler of a small message.
    """

    __slots__ = ("_attributes", "_name", "_span", "_token", "_traceparent")

    def __init__(
        self, traceparent: str | None, *, queue: str, message_type: str, message_id: str, correlation_id: str
    ) -> None:
        self._traceparent = traceparent
        self._name = f"{queue} process"
        self._attributes = {
            "messaging.system": "rabbitmq",
            "messaging.operation": "process",
            "messaging.destination.name": queue,
            "messaging.message.id": message_id,
            "messaging.message.conversation_id": correlation_id,
            "warren.message_type": message_type,
        }

    def __enter__(self) -> Span:
        parent = context_from(self._traceparent)
        self._span = _TRACER.start_span(
            self._name, context=parent, kind=SpanKind.CONSUMER, attributes=self._attributes
        )
        self._token = context.attach(trace.set_span_in_context(self._span, parent))
        return self._span

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        context.detach(self._token)
        if exc is not None and isinstance(exc, Exception):
            self._span.record_exception(exc)
            self._span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        self._span.end()
