"""Outbox benchmark on PostgreSQL and SQLite (a script run by ``make bench``, not a test).

Figures, each against a baseline measured in the same run, in alternating rounds (this machine is shared, so a
baseline taken minutes apart would measure other people's load); medians over the rounds:
  1. write overhead: a unit of work changing one row and recording one event (state + outbox row) against the same
     unit of work changing the row alone; raw asyncpg (state row + outbox row on one connection) as reference;
  2. relay throughput: draining a backlog, against confirm-publishing the same messages (prebuilt) with the same
     sender and window;
  3. commit-to-delivery latency p50/p99 at a steady 500 events/s: from the moment ``uow.commit()`` returns in the
     producing process to the moment a consumer on the broker receives the message (keyed by the event's probe id),
     both stamped with CLOCK_MONOTONIC (one clock for every process on Linux).
     PostgreSQL: the producers are separate processes (several, so the offered rate is reached) and the relay runs
     in this one, woken by LISTEN/NOTIFY. SQLite: one writer process (the producer) runs the relay on the same
     engine, woken in-process, as a SQLite service runs.
Uses a throw-away vhost and database (names start with ``outbox-bench``), deleted at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import asyncpg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.messaging.connection import confirm_channel, connect
from shared.messaging.management import ManagementClient
from shared.outbox.messages import to_message
from shared.outbox.relay import OutboxRelay, RelaySettings
from shared.outbox.schema import RowStatus, outbox_messages
from shared.outbox.sender import MessageSender
from shared.persistence.engine import create_engine
from shared.testing.outbox import PROBE_EXCHANGE, ProbeHappened, ProbeUnitOfWork, create_tables

AMQP_BASE = os.environ.get("WARREN_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672")
MANAGEMENT_URL = os.environ.get("WARREN_TEST_MANAGEMENT", "http://127.0.0.1:15672")
POSTGRES_BASE = os.environ.get("WARREN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")

ROUNDS = int(os.environ.get("BENCH_OUTBOX_ROUNDS", "3"))
WRITES = int(os.environ.get("BENCH_OUTBOX_WRITES", "600"))  # per case and round
BACKLOG = int(os.environ.get("BENCH_OUTBOX_BACKLOG", "3000"))  # per round
RATE = int(os.environ.get("BENCH_OUTBOX_RATE", "500"))  # events (= commits) per second, steady phase
STEADY_SECONDS = float(os.environ.get("BENCH_OUTBOX_STEADY_SECONDS", "8"))
WARMUP_SECONDS = 1.0  # the first second of the steady phase is not counted (pools, prepared statements)
PRODUCERS = int(os.environ.get("BENCH_OUTBOX_PRODUCERS", "2"))  # PostgreSQL producer processes
LATE_MS = 10.0  # a commit starting this far behind its schedule counts as late


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, load average {load:.1f}"


class Rates:
    """Per-case transactions (or messages) per second and CPU microseconds per operation, over rounds."""

    def __init__(self) -> None:
        self.per_second: dict[str, list[float]] = {}
        self.cpu_us: dict[str, list[float]] = {}

    async def run(self, label: str, count: int, one: Callable[[int], Awaitable[None]]) -> None:
        cpu, started = time.process_time(), time.perf_counter()
        for i in range(count):
            await one(i)
        self.add(label, count, time.perf_counter() - started, time.process_time() - cpu)

    def add(self, label: str, count: int, wall: float, cpu: float) -> None:
        self.per_second.setdefault(label, []).append(count / wall)
        self.cpu_us.setdefault(label, []).append(cpu / count * 1e6)

    def rate(self, label: str) -> float:
        return statistics.median(self.per_second[label])

    def cpu(self, label: str) -> float:
        return statistics.median(self.cpu_us[label])

    def show(self, label: str, unit: str = "/s") -> None:
        rounds = " ".join(f"{r:.0f}" for r in self.per_second[label])
        print(
            f"  {label:<48} {self.rate(label):>7.0f} {unit:<3} {self.cpu(label):>6.0f} us CPU/op"
            f"   (rounds: {rounds})"
        )


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

    cases: list[tuple[str, Callable[[int], Awaitable[None]]]] = [
        ("unit of work: state change alone", state_only),
        ("unit of work: state change + outbox row", state_and_outbox),
    ]
    connection = None
    if raw_dsn is not None:
        connection = await asyncpg.connect(raw_dsn)
        payload = ProbeHappened(probe_id="w-0", seq=1).model_dump_json()

        async def raw(i: int) -> None:
            assert connection is not None
            async with connection.transaction():
                await connection.execute("UPDATE probes SET seq = seq + 1 WHERE id = $1", aggregates[i % 50])
                await connection.execute(
                    "INSERT INTO outbox_messages (message_id, kind, message_type, aggregate_id, exchange,"
                    " routing_key, producer, correlation_id, payload, created_at) VALUES ($1, 'event',"
                    " 'probe.happened.v1', $2, 'probe.events', 'probe.happened', 'probe', $3, $4, now())",
                    str(uuid.uuid4()),
                    aggregates[i % 50],
                    "c",
                    payload,
                )

        cases.append(("raw asyncpg: state row + outbox row (baseline)", raw))
    for _, one in cases:
        await one(0)  # warm the pool and statement caches
    rates = Rates()
    for _ in range(ROUNDS):
        for label, one in cases:
            await rates.run(label, WRITES, one)
    for label, _ in cases:
        rates.show(label)
    alone, with_outbox = cases[0][0], cases[1][0]
    print(
        f"  -> outbox write overhead: {rates.rate(with_outbox) / rates.rate(alone):.2f}x the transactions/s of the"
        f" state change alone (CPU: {rates.cpu(with_outbox) - rates.cpu(alone):.0f} us more per transaction)"
    )
    if connection is not None:
        raw_label = cases[2][0]
        print(
            f"  -> unit of work with outbox at {rates.rate(with_outbox) / rates.rate(raw_label):.2f} of raw asyncpg"
        )
        await connection.close()
    async with engine.begin() as db:
        await db.exec_driver_sql("DELETE FROM outbox_messages")


async def relay_throughput(engine: AsyncEngine, amqp_url: str) -> None:
    connection = await connect(amqp_url, connection_name="outbox-bench")
    channel = await confirm_channel(connection)
    sender = MessageSender(channel)
    window = RelaySettings().batch_size
    rates = Rates()
    raw_label, relay_label = "raw confirm-publish, same messages (baseline)", "relay draining a backlog"
    for round_no in range(ROUNDS):
        # A backlog over 1,000 aggregates, written in big transactions (this part measures the relay, not writes).
        for start in range(0, BACKLOG, 1000):
            async with ProbeUnitOfWork(engine) as uow:
                for i in range(start, min(start + 1000, BACKLOG)):
                    uow.record(ProbeHappened(probe_id=f"r-{i % 1000}", seq=i), aggregate_id=f"r-{i % 1000}")
                await uow.commit()
        async with engine.connect() as db:
            pending = select(outbox_messages).where(outbox_messages.c.status == RowStatus.PENDING.value)
            rows = [dict(r._mapping) for r in await db.execute(pending.order_by(outbox_messages.c.id))]
        messages = [to_message(row) for row in rows]

        async def raw(messages: list[aio_pika.Message]) -> None:
            cpu, started = time.process_time(), time.perf_counter()
            for start in range(0, len(messages), window):
                await asyncio.gather(
                    *(
                        sender.publish_message(PROBE_EXCHANGE, m, routing_key="probe.happened")
                        for m in messages[start : start + window]
                    )
                )
            rates.add(raw_label, len(messages), time.perf_counter() - started, time.process_time() - cpu)

        async def relayed() -> None:
            relay = OutboxRelay(engine, connection)
            cpu, started = time.process_time(), time.perf_counter()
            published = 0
            while count := await relay.run_once():
                published += count
            rates.add(relay_label, published, time.perf_counter() - started, time.process_time() - cpu)
            await relay.stop()

        if round_no % 2 == 0:
            await raw(messages)
            await relayed()
        else:
            await relayed()
            await raw(messages)
    rates.show(raw_label, "msg/s")
    rates.show(relay_label, "msg/s")
    per_round = " ".join(
        f"{r / b:.2f}"
        for r, b in zip(rates.per_second[relay_label], rates.per_second[raw_label], strict=True)
    )
    print(
        f"  -> relay at {rates.rate(relay_label) / rates.rate(raw_label):.2f} of the raw confirm-publish rate"
        f" (target >= 0.7; per round {per_round})"
    )
    await connection.close()


# -- steady load: producer processes ------------------------------------------------------------------------


async def produce_steadily(
    database_url: str, rate: float, seconds: float, out: str, name: str, amqp_url: str | None
) -> None:
    """Subprocess: commit one event every 1/rate s (open loop) and stamp each when its commit returns.

    With ``amqp_url`` (SQLite: the single writer process) it also runs the relay on its engine, woken in-process.
    """
    engine = create_engine(database_url)
    relay = connection = None
    if amqp_url is not None:
        connection = await connect(amqp_url, connection_name=f"outbox-bench-{name}")
        relay = OutboxRelay(engine, connection)
        await relay.start()
    committed: dict[str, float] = {}
    in_flight: set[asyncio.Task[None]] = set()

    async def commit_one(i: int) -> None:
        key = f"l-{name}-{i}"
        async with ProbeUnitOfWork(engine) as uow:
            uow.record(ProbeHappened(probe_id=key, seq=i), aggregate_id=key)
            await uow.commit()
            committed[key] = time.monotonic()

    total = int(rate * seconds)
    cpu, started = time.process_time(), time.monotonic()
    late = 0
    for i in range(total):
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the producer, not synchronising a test
        elif -delay * 1000 > LATE_MS:
            late += 1
        task = asyncio.create_task(commit_one(i))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    elapsed = time.monotonic() - started
    result = {
        "committed": committed,
        "started": started,
        "rate": total / elapsed,
        "late": late,
        "cpu_us": (time.process_time() - cpu) / total * 1e6,
    }
    await asyncio.to_thread(Path(out).write_text, json.dumps(result))
    print("committed", flush=True)  # the parent waits for this line
    if relay is not None and connection is not None:
        # Keep relaying until the consumer has everything (the parent ends this process with SIGTERM).
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(15, stop.set)
        await stop.wait()
        await relay.stop()
        await connection.close()
    await engine.dispose()


async def steady_latency(engine: AsyncEngine, database_url: str, amqp_url: str) -> None:
    sqlite = engine.dialect.name == "sqlite"
    connection = await connect(amqp_url, connection_name="outbox-bench-latency")
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=1000)
    queue = await channel.declare_queue("bench.latency", exclusive=True)
    await queue.bind(PROBE_EXCHANGE, "probe.happened")
    delivered: dict[str, float] = {}
    expected = [sys.maxsize]  # known once the producers are done
    all_delivered = asyncio.Event()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        at = time.monotonic()
        delivered[ProbeHappened.model_validate_json(message.body).probe_id] = at
        await message.ack()
        if len(delivered) >= expected[0]:
            all_delivered.set()

    await queue.consume(on_message)
    relay = None
    if not sqlite:
        # PostgreSQL: NOTIFY wakes this relay across processes (poll only as the fallback).
        relay = OutboxRelay(engine, connection)
        await relay.start()
    producers = 1 if sqlite else PRODUCERS
    cpu = time.process_time()
    with tempfile.TemporaryDirectory(prefix="outbox-bench-") as directory:
        outputs = [f"{directory}/producer-{n}.json" for n in range(producers)]
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--produce",
                database_url,
                str(RATE / producers),
                str(STEADY_SECONDS),
                outputs[n],
                f"p{n}",
                *([amqp_url] if sqlite else []),
                stdout=asyncio.subprocess.PIPE,
            )
            for n in range(producers)
        ]
        for process in processes:
            assert process.stdout is not None
            await process.stdout.readline()  # "committed": its commits are done and written down
        results = [json.loads(await asyncio.to_thread(Path(out).read_text)) for out in outputs]
        expected[0] = sum(len(r["committed"]) for r in results)
        if len(delivered) >= expected[0]:
            all_delivered.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_delivered.wait(), 30)
        for process in processes:
            if process.returncode is None:
                process.terminate()
                await process.wait()
    relay_cpu = (time.process_time() - cpu) / max(expected[0], 1) * 1e6
    if relay is not None:
        await relay.stop()
    await connection.close()
    latencies: list[float] = []
    by_second: dict[int, list[float]] = {}
    for result in results:
        warm = result["started"] + WARMUP_SECONDS
        for key, at in result["committed"].items():
            if key in delivered:
                by_second.setdefault(int(at - result["started"]), []).append((delivered[key] - at) * 1000)
                if at >= warm:
                    latencies.append((delivered[key] - at) * 1000)
    missing = expected[0] - sum(1 for r in results for key in r["committed"] if key in delivered)
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[max(int(len(latencies) * 0.99) - 1, 0)]
    offered = sum(r["rate"] for r in results)
    late = sum(r["late"] for r in results)
    where = "one writer process, relay inside it" if sqlite else f"{producers} producer processes, relay here"
    print(
        f"  steady load ({where}): {offered:.0f} commits/s sustained of {RATE} asked, {late} started >"
        f" {LATE_MS:.0f} ms behind schedule; producer CPU"
        f" {statistics.mean(r['cpu_us'] for r in results):.0f} us/commit"
        + ("" if sqlite else f"; relay+consumer process CPU {relay_cpu:.0f} us/event")
    )
    print(f"  {expected[0] - missing}/{expected[0]} delivered")
    trend = ", ".join(f"{statistics.median(v):.0f}" for _, v in sorted(by_second.items()))
    print(f"  p50 latency (ms) of the commits of each second: {trend}")
    print(
        f"  -> commit returned -> delivered to a consumer: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max"
        f" {latencies[-1]:.1f} ms over {len(latencies)} events (target p99 < 50 ms)"
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
    print(f"outbox benchmark on {machine()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
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
        url, rate, seconds, out, name, *amqp = sys.argv[2:]
        asyncio.run(produce_steadily(url, float(rate), float(seconds), out, name, amqp[0] if amqp else None))
    else:
        asyncio.run(main())
