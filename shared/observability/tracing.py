"""W3C trace context across messages, with the OpenTelemetry API.

A publisher stamps the current context into the envelope's ``traceparent``; a consumer continues that trace
in a CONSUMER span around its handler. Without a configured SDK every call here is a cheap no-op.
"""

from __future__ import annotations

import os
from uuid import UUID

from opentelemetry import context, trace
from opentelemetry.environment_variables import OTEL_PYTHON_TRACER_PROVIDER
from opentelemetry.trace import (
    INVALID_SPAN,
    NoOpTracerProvider,
    ProxyTracerProvider,
    Span,
    SpanKind,
    Status,
    StatusCode,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACER_NAME = "warren.messaging"
_PROPAGATOR = TraceContextTextMapPropagator()
# A proxy tracer: it follows whatever provider is configured later, so fetching it once is safe.
_TRACER = trace.get_tracer(TRACER_NAME)
_NO_SDK = (ProxyTracerProvider, NoOpTracerProvider)
_sdk_seen = False
# A provider named in the environment is loaded by the API on first use; the variable is read once, here.
_PROVIDER_FROM_ENV = OTEL_PYTHON_TRACER_PROVIDER in os.environ


def tracing_configured() -> bool:
    """True once a real tracer provider (an SDK) is set; a provider, once set, is never unset."""
    global _sdk_seen
    # The API's global provider is read directly first: while none is set, get_tracer_provider() looks up an
    # environment variable (two KeyErrors) on every call, i.e. on every message. Should the attribute ever
    # go away, getattr's default sends every call through the public API instead.
    if not _sdk_seen and (_PROVIDER_FROM_ENV or getattr(trace, "_TRACER_PROVIDER", True) is not None):
        _sdk_seen = not isinstance(trace.get_tracer_provider(), _NO_SDK)
    return _sdk_seen


def current_traceparent() -> str | None:
    """The active span's context as a ``traceparent`` value, or None when nothing is being traced."""
    # What TraceContextTextMapPropagator.inject writes, without its carrier dict and setter on every publish;
    # an empty context (the common case outside any span) holds no span at all.
    current = context.get_current()
    if not current:
        return None
    span_context = trace.get_current_span(current).get_span_context()
    if not span_context.is_valid:
        return None
    return f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{span_context.trace_flags:02x}"


def context_from(traceparent: str | None) -> context.Context:
    """An OpenTelemetry context continuing ``traceparent`` (an empty context when it is None or invalid)."""
    if not traceparent:
        return context.Context()
    return _PROPAGATOR.extract({"traceparent": traceparent})


class consume_span:
    """Run the block in a CONSUMER span that continues the producer's trace; errors mark the span.

    A class rather than ``start_as_current_span``: this runs once per message, and the nested generator
    context managers of the convenience API cost more than the handler of a small message. When there is no
    trace to continue, no SDK to record the span and nothing in the current context, the span would be an
    invalid no-op in an otherwise empty context, which the block could not tell from no span: none is started.
    """

    __slots__ = (
        "_correlation_id",
        "_message_id",
        "_message_type",
        "_queue",
        "_span",
        "_token",
        "_traceparent",
    )

    def __init__(
        self,
        traceparent: str | None,
        *,
        queue: str,
        message_type: str,
        message_id: str | UUID,
        correlation_id: str,
    ) -> None:
        # Only stored: the span name and attributes are built when a span is started.
        self._traceparent = traceparent
        self._queue = queue
        self._message_type = message_type
        self._message_id = message_id
        self._correlation_id = correlation_id
        self._span: Span | None = None

    def __enter__(self) -> Span:
        if self._traceparent is None and not context.get_current() and not tracing_configured():
            return INVALID_SPAN
        parent = context_from(self._traceparent)
        attributes = {
            "messaging.system": "rabbitmq",
            "messaging.operation": "process",
            "messaging.destination.name": self._queue,
            "messaging.message.id": str(self._message_id),
            "messaging.message.conversation_id": self._correlation_id,
            "warren.message_type": self._message_type,
        }
        span = _TRACER.start_span(
            f"{self._queue} process", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
        )
        self._token = context.attach(trace.set_span_in_context(span, parent))
        self._span = span
        return span

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        span = self._span
        if span is None:
            return
        context.detach(self._token)
        if exc is not None and isinstance(exc, Exception):
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        span.end()
