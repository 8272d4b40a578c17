"""Trace context travels with a message: the publisher stamps it, the consumer continues it."""

from __future__ import annotations

from typing import ClassVar

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.contracts.base import Event
from shared.messaging.envelope import Envelope
from shared.messaging.topology import Topology, handler_queue
from shared.observability.tracing import context_from, current_traceparent
from shared.testing.memory_broker import MemoryBroker


class LampLit(Event):
    message_type: ClassVar[str] = "lighthouse.lamp_lit.v1"
    producer: ClassVar[str] = "lighthouse"

    lamp: int


ON_LIT = handler_queue("keeper", "on_lit", [("lighthouse.events", "#")])


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def test_current_traceparent_is_none_when_no_span_is_active() -> None:
    assert current_traceparent() is None
    assert trace.get_current_span(context_from("garbage")).get_span_context().is_valid is False


async def test_handler_runs_in_a_consumer_span_of_the_publishers_trace_when_published_in_a_span(
    spans: InMemorySpanExporter,
) -> None:
    broker = MemoryBroker()
    broker.declare(Topology("lighthouse"))
    broker.declare(Topology("keeper", publishes=False, queues=(ON_LIT,)))
    seen: list[str | None] = []

    async def handle(message: LampLit, envelope: Envelope) -> None:
        seen.append(envelope.traceparent)
        seen.append(current_traceparent())

    broker.register(ON_LIT, handle, accepts=[LampLit])
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("checkout") as parent:
        envelope = Envelope(
            type=LampLit.message_type, correlation_id="c", producer="lighthouse", payload={"lamp": 1}
        )
        await broker.publish("lighthouse.events", envelope)
    await broker.drain()

    trace_id = format(parent.get_span_context().trace_id, "032x")
    published, inside_handler = seen
    assert published is not None
    assert published.split("-")[1] == trace_id
    assert inside_handler is not None
    assert inside_handler.split("-")[1] == trace_id
    assert inside_handler != published  # a child span of its own
    [consumer_span] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert consumer_span.name == "keeper.on_lit process"
    assert consumer_span.attributes is not None
    assert consumer_span.attributes["messaging.message.id"] == str(envelope.message_id)
