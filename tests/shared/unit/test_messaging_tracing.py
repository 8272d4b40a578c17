"""Trace context travels with a message: the publisher stamps it, the consumer continues it."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, ClassVar

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pamqp.commands import Basic

from shared.contracts.base import Event
from shared.messaging.envelope import Envelope
from shared.messaging.publisher import Publisher
from shared.messaging.topology import Topology, handler_queue
from shared.observability.tracing import consume_span, context_from, current_traceparent
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


def test_current_traceparent_matches_the_w3c_propagator_when_a_span_is_active(
    spans: InMemorySpanExporter,
) -> None:
    carrier: dict[str, str] = {}
    with trace.get_tracer("test").start_as_current_span("publishing"):
        TraceContextTextMapPropagator().inject(carrier)
        stamped = current_traceparent()
    assert stamped is not None
    assert stamped == carrier["traceparent"]


class RecordingExchange:
    """Confirms every publish at once and keeps the messages."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def publish(self, message: Any, routing_key: str, *, mandatory: bool, **_: Any) -> Basic.Ack:
        self.messages.append(message)
        return Basic.Ack()

    async def get_exchange(self, name: str, *, ensure: bool) -> RecordingExchange:
        return self  # the channel and its one exchange, in one fake


async def test_publisher_stamps_the_active_trace_when_the_envelope_has_none(
    spans: InMemorySpanExporter,
) -> None:
    exchange = RecordingExchange()
    publisher = Publisher(exchange)  # type: ignore[arg-type]
    envelope = Envelope(type=LampLit.message_type, correlation_id="c", producer="lighthouse", payload={})
    with trace.get_tracer("test").start_as_current_span("checkout") as parent:
        await publisher.publish("lighthouse.events", envelope)
    await publisher.publish("lighthouse.events", envelope)  # outside any span
    inside, outside = (message.headers.get("traceparent") for message in exchange.messages)
    assert inside is not None
    assert inside.split("-")[1] == format(parent.get_span_context().trace_id, "032x")
    assert outside is None


def test_block_continues_the_producers_trace_when_the_message_carries_a_traceparent() -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with consume_span(traceparent, queue="q", message_type="t.x.v1", message_id="m", correlation_id="c"):
        inside = current_traceparent()
    assert inside is not None
    assert inside.split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
    assert current_traceparent() is None  # and the context is restored after the block


def test_block_starts_a_trace_of_its_own_when_the_message_carries_none_and_an_sdk_records(
    spans: InMemorySpanExporter,
) -> None:
    with consume_span(None, queue="q", message_type="t.x.v1", message_id="m", correlation_id="c"):
        inside = current_traceparent()
    assert inside is not None
    assert current_traceparent() is None


def test_block_sees_no_trace_when_the_message_carries_none_and_no_sdk_is_configured() -> None:
    # In a fresh interpreter: this one may already have the SDK provider of the tests above.
    script = (
        "from shared.observability.tracing import consume_span, current_traceparent\n"
        "with consume_span(None, queue='q', message_type='t.x.v1', message_id='m', correlation_id='c'):\n"
        "    print(current_traceparent())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "None"
