"""Throughput of the consumer runtime against bare aio-pika, same broker, same run.

Each side publishes N persistent messages with publisher confirms (64 confirms outstanding) into its own
quorum queue while a consumer acks them manually (prefetch 32); the figure is N / (first publish -> last ack).
Bare aio-pika only decodes the JSON body and acks; the runtime parses the envelope, validates the contract,
runs the handler in a span, counts metrics and acks. Rounds alternate between the two sides; the median and
best of each are reported, with the median of paired ratios runtime / bare (target >= 0.85).

Run: ``make bench`` or ``.venv/bin/python bench/bench_messaging.py [N] [rounds]``. Uses its own vhost.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import ClassVar

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from shared.contracts.base import Event
from shared.messaging.connection import confirm_channel, connect
from shared.messaging.consumer import Consumer
from shared.messaging.declare import declare
from shared.messaging.envelope import Envelope
from shared.messaging.management import ManagementClient
from shared.messaging.publisher import Publisher
from shared.messaging.topology import Topology, handler_queue

AMQP_BASE = os.environ.get("WARREN_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672")
MANAGEMENT_URL = os.environ.get("WARREN_TEST_MANAGEMENT", "http://127.0.0.1:15672")
IN_FLIGHT_CONFIRMS = 64
# Client CPU seconds per message (publisher and consumer share this process), per side, per round.
CPU_PER_MESSAGE: dict[str, list[float]] = {"bare": [], "runtime": []}


class BenchTicked(Event):
    message_type: ClassVar[str] = "bench.ticked.v1"
    producer: ClassVar[str] = "bench"

    n: int
    note: str


BARE = handler_queue("benchbare", "on_tick", [("bench.events", "bench.bare")])
RUNTIME = handler_queue("benchruntime", "on_tick", [("bench.events", "bench.ticked")])
TOPOLOGIES = (
    Topology("bench"),
    Topology("benchbare", publishes=False, queues=(BARE,)),
    Topology("benchruntime", publishes=False, queues=(RUNTIME,)),
)


def envelope(n: int) -> Envelope:
    return Envelope(
        type=BenchTicked.message_type,
        correlation_id=f"bench-{n}",
        producer="bench",
        payload={"n": n, "note": "x" * 200},
    )


async def publish_all(publish: Callable[[int], Awaitable[None]], count: int) -> None:
    window = asyncio.Semaphore(IN_FLIGHT_CONFIRMS)

    async def one(n: int) -> None:
        async with window:
            await publish(n)

    await asyncio.gather(*(one(n) for n in range(count)))


async def bare_round(url: str, count: int) -> float:
    connection = await aio_pika.connect_robust(url)
    async with connection:
        publish_channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await publish_channel.get_exchange("bench.events")
        consume_channel = await connection.channel()
        await consume_channel.set_qos(prefetch_count=BARE.prefetch)
        queue = await consume_channel.declare_queue(BARE.name, passive=True)
        done = asyncio.Event()
        acked = 0

        async def on_message(message: AbstractIncomingMessage) -> None:
            nonlocal acked
            json.loads(message.body)
            await message.ack()
            acked += 1
            if acked == count:
                done.set()

        async def publish(n: int) -> None:
            await exchange.publish(envelope(n).to_message(), routing_key="bench.bare", mandatory=True)

        tag = await queue.consume(on_message)
        started, cpu = time.perf_counter(), time.process_time()
        await publish_all(publish, count)
        await done.wait()
        elapsed = time.perf_counter() - started
        CPU_PER_MESSAGE["bare"].append((time.process_time() - cpu) / count)
        await queue.cancel(tag)
    return count / elapsed


async def runtime_round(url: str, count: int) -> float:
    connection = await connect(url, connection_name="bench-runtime")
    async with connection:
        publisher = Publisher(await confirm_channel(connection))
        consumer = Consumer(connection, TOPOLOGIES[2], declare_topology=False)
        done = asyncio.Event()
        handled = 0

        async def on_tick(message: BenchTicked, env: Envelope) -> None:
            nonlocal handled
            handled += 1
            if handled == count:
                done.set()

        consumer.register("on_tick", on_tick, accepts=[BenchTicked])
        await consumer.start()

        async def publish(n: int) -> None:
            await publisher.publish("bench.events", envelope(n))

        started, cpu = time.perf_counter(), time.process_time()
        await publish_all(publish, count)
        await done.wait()  # the last handler returned; its ack is one write away (not worth timing)
        elapsed = time.perf_counter() - started
        CPU_PER_MESSAGE["runtime"].append((time.process_time() - cpu) / count)
        await consumer.stop(grace_seconds=5)
    return count / elapsed


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, aio-pika {aio_pika.__version__}"


async def main(count: int, rounds: int) -> None:
    vhost = f"bench-messaging-{uuid.uuid4().hex[:8]}"
    url = f"{AMQP_BASE.rstrip('/')}/{vhost}"
    async with ManagementClient(MANAGEMENT_URL) as admin:
        await admin.create_vhost(vhost)
        await admin.set_permissions(vhost, "guest")
        try:
            connection = await connect(url, connection_name="bench-declare")
            async with connection:
                for topology in TOPOLOGIES:
                    await declare(connection, topology)
            await runtime_round(url, min(count, 500))  # warm-up: imports, JIT-less caches, broker queues
            await bare_round(url, min(count, 500))
            # Move everything alive now (imported modules: pydantic, SQLAlchemy, Celery...) out of the
            # collector's reach, as a service does after start-up; otherwise one full collection of that heap
            # (~100 ms here) lands at random in one side's round and decides the ratio.
            gc.collect()
            gc.freeze()
            CPU_PER_MESSAGE["bare"].clear()
            CPU_PER_MESSAGE["runtime"].clear()
            bare: list[float] = []
            runtime: list[float] = []
            for round_number in range(rounds):
                # Swap who goes first every round: the second of a pair meets a broker still flushing the
                # first one's quorum log, and that must not count against either side.
                if round_number % 2 == 0:
                    bare.append(await bare_round(url, count))
                    runtime.append(await runtime_round(url, count))
                else:
                    runtime.append(await runtime_round(url, count))
                    bare.append(await bare_round(url, count))
        finally:
            await admin.delete_vhost(vhost)
    print(f"machine: {machine()}")
    print(f"messages per round: {count} persistent, confirmed, manually acked; rounds: {rounds}, alternating")
    for name, figures in (("bare aio-pika ", bare), ("warren runtime", runtime)):
        print(
            f"{name}: median {statistics.median(figures):6.0f} msgs/s, best {max(figures):6.0f} msgs/s"
            f"  (rounds: {', '.join(f'{r:.0f}' for r in figures)})"
        )
    cpu_bare = statistics.median(CPU_PER_MESSAGE["bare"]) * 1e6
    cpu_runtime = statistics.median(CPU_PER_MESSAGE["runtime"]) * 1e6
    print(
        f"client CPU per message (publish + consume): bare {cpu_bare:.0f} us, runtime {cpu_runtime:.0f} us "
        f"(ratio {cpu_bare / cpu_runtime:.2f})"
    )
    # The machine is shared, so load drifts between rounds: compare each runtime round with the bare round
    # of the same pair and take the median of those paired ratios.
    paired = statistics.median(r / b for r, b in zip(runtime, bare, strict=True))
    verdict = "OK" if paired >= 0.85 else "BELOW TARGET"
    print(
        f"ratio runtime / bare: paired median {paired:.2f}, of medians "
        f"{statistics.median(runtime) / statistics.median(bare):.2f} (target >= 0.85: {verdict})"
    )


if __name__ == "__main__":
    asyncio.run(
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000, int(sys.argv[2]) if len(sys.argv) > 2 else 10)
    )
