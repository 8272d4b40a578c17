"""Outbox benchmark on PostgreSQL and SQLite (a script run by ``make bench``, not a test).

Figures, each against a baseline measured in the same run:
  1. write overhead: a unit of work changing one row and recording one event (state + outbox row) against the same
     unit of work changing the row alone; raw asyncpg (state row + outbox row on one connection) as reference;
  2. relay throughput: draining a backlog, against the raw confirm-publish rate of the same messages;
  3. commit-to-delivery latency p50/p99 at a steady 500 events/s with the relay running.
Uses a throw-away vhost and database (names start with ``outbox-bench``), deleted at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aio_pika
import asyncpg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.messaging.connection import confirm_channel, connect
from shared.messaging.management import ManagementClient
from shared.outbox.messages import to_message
from shared.outbox.relay import OutboxRelay, RelaySettings
from shared.outbox.schema import outbox_messages
from shared.outbox.sender import MessageSender
from shared.persistence.engine import create_engine
from shared.testing.outbox import PROBE_EXCHANGE, ProbeHappened, ProbeUnitOfWork, create_tables

AMQP_BASE = os.environ.get("WARREN_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672")
MANAGEMENT_URL = os.environ.get("WARREN_TEST_MANAGEMENT", "http://127.0.0.1:15672")
POSTGRES_BASE = os.environ.get("WARREN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")

WRITES = int(os.environ.get("BENCH_OUTBOX_WRITES", "1500"))
BACKLOG = int(os.environ.get("BENCH_OUTBOX_BACKLOG", "5000"))
RATE = 500
STEADY_SECONDS = float(os.environ.get("BENCH_OUTBOX_STEADY_SECONDS", "6"))


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


async def rate(label: str, count: int, one: Callable[[int], Awaitable[None]]) -> float:
    started = time.perf_counter()
    for i in range(count):
        await one(i)
    per_second = count / (time.perf_counter() - started)
    print(f"  {label:<52} {per_second:>9.0f} /s")
    return per_second


async def write_overhead(engine: AsyncEngine, raw_dsn: str | None) -> None:
    aggregates = [f"w-{i}" for i in range(50)]
    async with ProbeUnitOfWork(engine) as uow:
        for name in aggregates:
            await uow.probes.get_or_add(name)
        await uow.commit()

    async def state_only(i: int) -> None:
        async with ProbeUnitOfWork(engine) as uow:
            probe = await uow.probes.get(aggregates[i % 50])
            assert probe is not None
            probe.seq += 1
            await uow.commit()

    async def state_and_outbox(i: int) -> None:
        async with ProbeUnitOfWork(engine) as uow:
            probe = await uow.probes.get(aggregates[i % 50])
            assert probe is not None
            probe.bump()
            await uow.commit()

    await state_only(0)  # warm the pool and statement caches
    alone = await rate("unit of work: state change alone", WRITES, state_only)
    with_outbox = await rate("unit of work: state change + outbox row", WRITES, state_and_outbox)
    print(
        f"  -> outbox write overhead: {with_outbox / alone:.2f}x the transactions/s of the state change alone"
    )
    if raw_dsn is None:
        return
    connection = await asyncpg.connect(raw_dsn)
    payload = ProbeHappened(probe_id="w-0", seq=1).model_dump_json()

    async def raw(i: int) -> None:
        async with connection.transaction():
            await connection.execute("UPDATE probes SET seq = seq + 1 WHERE id = $1", aggregates[i % 50])
            await connection.execute(
                "INSERT INTO outbox_messages (message_id, kind, message_type, aggregate_id, exchange, routing_key,"
                " producer, correlation_id, payload, created_at) VALUES ($1, 'event', 'probe.happened.v1', $2,"
                " 'probe.events', 'probe.happened', 'probe', $3, $4, now())",
                str(uuid.uuid4()),
                aggregates[i % 50],
                "c",
                payload,
            )

    raw_rate = await rate("raw asyncpg: state row + outbox row (baseline)", WRITES, raw)
    await connection.close()
    print(f"  -> unit of work with outbox at {with_outbox / raw_rate:.2f} of raw asyncpg")
    async with engine.begin() as db:
        await db.exec_driver_sql("DELETE FROM outbox_messages")


async def relay_throughput(engine: AsyncEngine, amqp_url: str) -> None:
    # A backlog over 1,000 aggregates, written in big transactions (this part measures the relay, not writes).
    for start in range(0, BACKLOG, 1000):
        async with ProbeUnitOfWork(engine) as uow:
            for i in range(start, min(start + 1000, BACKLOG)):
                uow.record(ProbeHappened(probe_id=f"r-{i % 1000}", seq=i), aggregate_id=f"r-{i % 1000}")
            await uow.commit()
    connection = await connect(amqp_url, connection_name="outbox-bench")
    channel = await confirm_channel(connection)
    # Raw: the same messages, confirm-published by the same sender with the relay's window (batch size).
    async with engine.connect() as db:
        result = await db.execute(select(outbox_messages).order_by(outbox_messages.c.id))
        rows = [dict(r._mapping) for r in result]
    messages = [to_message(row) for row in rows]
    sender = MessageSender(channel)
    window = RelaySettings().batch_size
    started = time.perf_counter()
    for start in range(0, len(messages), window):
        await asyncio.gather(
            *(
                sender.publish_message(PROBE_EXCHANGE, m, routing_key="probe.happened")
                for m in messages[start : start + window]
            )
        )
    raw = len(messages) / (time.perf_counter() - started)
    print(f"  {'raw confirm-publish (baseline)':<52} {raw:>9.0f} /s")
    relay = OutboxRelay(engine, connection)
    started = time.perf_counter()
    published = 0
    while count := await relay.run_once():
        published += count
    relayed = published / (time.perf_counter() - started)
    print(f"  {'relay draining a backlog':<52} {relayed:>9.0f} /s")
    print(f"  -> relay at {relayed / raw:.2f} of the raw confirm-publish rate (target >= 0.7)")
    await relay.stop()
    await connection.close()


async def produce_steadily(database_url: str, total: int) -> None:
    """Subprocess: commit one event every 1/RATE s (open loop), stamping each with its wall-clock time."""
    engine = create_engine(database_url)
    in_flight: set[asyncio.Task[None]] = set()

    async def commit_one(i: int) -> None:
        async with ProbeUnitOfWork(engine) as uow:
            uow.record(
                ProbeHappened(probe_id=f"l-{i}", seq=1, padding=repr(time.time())), aggregate_id=f"l-{i}"
            )
            await uow.commit()

    started = time.perf_counter()
    late = 0
    for i in range(total):
        delay = started + i / RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the producer, not synchronising a test
        else:
            late += 1
        task = asyncio.create_task(commit_one(i))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    print(f"  steady load: {total / (time.perf_counter() - started):.0f} commits/s offered ({late} late)")
    await engine.dispose()


async def steady_latency(engine: AsyncEngine, database_url: str, amqp_url: str) -> None:
    """The relay in this process; the producing 'service' in another (each gets its own core, as deployed)."""
    connection = await connect(amqp_url, connection_name="outbox-bench-latency")
    channel = await connection.channel()
    queue = await channel.declare_queue("bench.latency", exclusive=True)
    await queue.bind(PROBE_EXCHANGE, "probe.happened")
    latencies: list[float] = []
    total = int(RATE * STEADY_SECONDS)
    done = asyncio.Event()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        stamped = float(ProbeHappened.model_validate_json(message.body).padding)
        latencies.append(time.time() - stamped)
        await message.ack()
        if len(latencies) >= total:
            done.set()

    await queue.consume(on_message)
    # PostgreSQL: NOTIFY wakes the relay across processes. SQLite has no cross-process signal: a short poll.
    poll = 1.0 if engine.dialect.name == "postgresql" else 0.01
    relay = OutboxRelay(engine, connection, settings=RelaySettings(poll_interval=poll))
    await relay.start()
    producer = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--produce", database_url, str(total)
    )
    await producer.wait()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout=30)
    await relay.stop()
    await connection.close()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"  {len(latencies)}/{total} delivered")
    print(
        f"  -> event recorded (before commit) to delivered: p50 {p50:.1f} ms, p99 {p99:.1f} ms (target p99 < 50 ms)"
    )


async def run_on(label: str, database_url: str, raw_dsn: str | None, amqp_url: str) -> None:
    print(f"\n== {label}")
    engine = create_engine(database_url)
    await create_tables(engine)
    try:
        await write_overhead(engine, raw_dsn)
        await relay_throughput(engine, amqp_url)
        await steady_latency(engine, database_url, amqp_url)
    finally:
        await engine.dispose()


async def main() -> None:
    print(f"outbox benchmark on {machine()}")
    suffix = uuid.uuid4().hex[:8]
    vhost = f"outbox-bench-{suffix}"
    database = f"outbox_bench_{suffix}"
    async with ManagementClient(MANAGEMENT_URL) as rabbit:
        await rabbit.create_vhost(vhost)
        await rabbit.set_permissions(vhost, "guest")
        admin = await asyncpg.connect(f"{POSTGRES_BASE}/postgres")
        await admin.execute(f'CREATE DATABASE "{database}"')
        try:
            amqp_url = f"{AMQP_BASE}/{vhost}"
            setup = await connect(amqp_url, connection_name="outbox-bench-setup")
            channel = await setup.channel()
            exchange = await channel.declare_exchange(
                PROBE_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
            )
            sink = await channel.declare_queue("bench.sink", durable=True, arguments={"x-max-length": 1000})
            await sink.bind(exchange, "probe.#")
            targets = sys.argv[1:] or ["postgres", "sqlite"]  # e.g. `python bench/bench_outbox.py sqlite`
            if "postgres" in targets:
                url = f"{POSTGRES_BASE.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{database}"
                await run_on("PostgreSQL 15", url, f"{POSTGRES_BASE}/{database}", amqp_url)
            if "sqlite" in targets:
                with tempfile.TemporaryDirectory(prefix="outbox-bench-") as directory:
                    await run_on("SQLite (WAL)", f"sqlite+aiosqlite:///{directory}/bench.db", None, amqp_url)
            await setup.close()
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await admin.close()
            await rabbit.delete_vhost(vhost)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--produce"]:
        asyncio.run(produce_steadily(sys.argv[2], int(sys.argv[3])))
    else:
        asyncio.run(main())
