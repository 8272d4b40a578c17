"""Fault tests with real relay processes, the real broker and both databases (see issue 3)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aio_pika
import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustConnection
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.messaging.connection import connect
from shared.messaging.envelope import Envelope
from shared.outbox import admin
from shared.outbox.relay import KILL_AFTER_CONFIRM_ENV
from shared.persistence.engine import create_engine
from shared.testing.fixtures import AMQP_BASE
from shared.testing.outbox import (
    PROBE_EXCHANGE,
    ProbeHappened,
    ProbeUnitOfWork,
    bump,
    create_tables,
    probe_effects,
)
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


class RelayProcess:
    """``python -m shared.testing.outbox relay`` as a child process."""

    def __init__(
        self, database: str, amqp: str, *, kill_after_confirm: bool = False, batch_size: int = 500
    ) -> None:
        env = {**os.environ}
        env.pop(KILL_AFTER_CONFIRM_ENV, None)
        if kill_after_confirm:
            env[KILL_AFTER_CONFIRM_ENV] = "1"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shared.testing.outbox",
                "relay",
                "--database",
                database,
                "--amqp",
                amqp,
                "--batch-size",
                str(batch_size),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ready(self) -> bool:
        """Block until the relay printed that it started (it is listening and relaying)."""
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip() == "relay started"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def relays() -> Iterator[list[RelayProcess]]:
    started: list[RelayProcess] = []
    yield started
    for relay in started:
        relay.stop()


@pytest.fixture
async def queue(amqp_url: str) -> AsyncIterator[AbstractQueue]:
    connection: AbstractRobustConnection = await connect(amqp_url, connection_name="test-outbox-faults")
    channel = await connection.channel()
    exchange = await channel.declare_exchange(PROBE_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue("probe.apply", durable=True)
    await queue.bind(exchange, "probe.#")
    yield queue
    await connection.close()


class Consumer:
    """Drains the queue; applies each message through the inbox like a service handler would."""

    def __init__(self, engine: AsyncEngine, queue: AbstractQueue) -> None:
        self.engine = engine
        self.queue = queue
        self.deliveries: list[Envelope] = []

    async def drain(self) -> int:
        while (message := await self.queue.get(fail=False)) is not None:
            envelope = Envelope.from_message(message)
            self.deliveries.append(envelope)
            event = ProbeHappened.model_validate(envelope.payload)
            uow = ProbeUnitOfWork(self.engine)
            async with uow.handling(envelope, handler="probe.apply") as first_time:
                if first_time:
                    await uow.connection.execute(
                        probe_effects.insert().values(probe_id=event.probe_id, seq=event.seq, applied=1)
                    )
                    await uow.commit()
            await message.ack()
        return len(self.deliveries)

    def order(self) -> dict[str, list[int]]:
        by_probe: dict[str, list[int]] = {}
        for envelope in self.deliveries:
            event = ProbeHappened.model_validate(envelope.payload)
            by_probe.setdefault(event.probe_id, []).append(event.seq)
        return by_probe


async def test_effect_happens_once_when_relay_is_killed_between_confirm_and_mark(
    engine: AsyncEngine, database_url: str, amqp_url: str, queue: AbstractQueue, relays: list[RelayProcess]
) -> None:
    await bump(engine, "k")
    doomed = RelayProcess(database_url, amqp_url, kill_after_confirm=True)
    relays.append(doomed)
    await wait_for(lambda: doomed.process.poll() is not None, timeout=30, message="relay killed itself")
    assert doomed.process.returncode == -9
    assert (await admin.outbox_stats(engine)).pending == 1  # published, but never marked
    relays.append(RelayProcess(database_url, amqp_url))
    consumer = Consumer(engine, queue)
    await wait_for(lambda: consumer.drain(), timeout=30)
    await wait_for(lambda: _sent(engine, 1), timeout=30, message="row marked sent")
    await consumer.drain()
    assert len(consumer.deliveries) == 2
    assert len({e.message_id for e in consumer.deliveries}) == 1  # the same message, twice
    async with engine.connect() as db:
        applied = (await db.execute(select(func.sum(probe_effects.c.applied)))).scalar()
    assert applied == 1


async def test_event_goes_out_when_relay_starts_after_a_crash_between_commit_and_relay(
    engine: AsyncEngine, database_url: str, amqp_url: str, queue: AbstractQueue, relays: list[RelayProcess]
) -> None:
    await _produce(database_url, 2, 3)  # the producing process is gone; its commits are in the outbox
    assert (await admin.outbox_stats(engine)).pending == 6
    relays.append(RelayProcess(database_url, amqp_url))
    consumer = Consumer(engine, queue)
    await wait_for(lambda: _drained(consumer, 6), timeout=30, message="6 deliveries")
    assert consumer.order() == {"probe-0": [1, 2, 3], "probe-1": [1, 2, 3]}


class CuttableProxy:
    """A TCP proxy to the broker that the test can cut (every connection dropped, new ones refused)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update({writer, up_writer})
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


async def test_rows_accumulate_then_drain_in_order_when_broker_is_unreachable_for_a_while(
    engine: AsyncEngine, database_url: str, vhost: str, queue: AbstractQueue, relays: list[RelayProcess]
) -> None:
    proxy = CuttableProxy("127.0.0.1", int(AMQP_BASE.rsplit(":", 1)[1]))
    await proxy.start()
    user = AMQP_BASE.split("//", 1)[1].rsplit("@", 1)[0]
    relays.append(RelayProcess(database_url, f"amqp://{user}@127.0.0.1:{proxy.port}/{vhost}"))
    consumer = Consumer(engine, queue)
    await bump(engine, "a")
    await wait_for(lambda: _drained(consumer, 1), timeout=30, message="relay up")

    await proxy.cut()
    for _ in range(5):
        for name in ("a", "b", "c"):
            await bump(engine, name)
    assert (await admin.outbox_stats(engine)).pending == 15
    await wait_for(_stays_pending(engine, 15), timeout=10, message="relay failing while cut")
    await (
        proxy.start()
    )  # the broker is back (same port): the robust connection reconnects, the backlog drains
    await wait_for(lambda: _drained(consumer, 16), timeout=60, message="backlog drained")
    assert consumer.order() == {"a": [1, 2, 3, 4, 5, 6], "b": [1, 2, 3, 4, 5], "c": [1, 2, 3, 4, 5]}
    assert (await admin.outbox_stats(engine)).pending == 0
    await proxy.cut()


async def test_two_relays_publish_each_row_once_in_order_when_racing_on_postgres(
    postgres_url: str, amqp_url: str, queue: AbstractQueue, relays: list[RelayProcess]
) -> None:
    engine = create_engine(postgres_url)
    await create_tables(engine)
    # Small batches, so the relays' concurrent batches hold different rows of the same aggregates.
    relays.extend([RelayProcess(postgres_url, amqp_url, batch_size=10) for _ in range(2)])
    assert all(await asyncio.gather(*(asyncio.to_thread(relay.ready) for relay in relays)))
    aggregates, events = 4, 40
    for _ in range(2):
        # One big commit: NOTIFY wakes both relays at once and they race for the same backlog.
        async with ProbeUnitOfWork(engine) as uow:
            for _ in range(events):
                for a in range(aggregates):
                    (await uow.probes.get_or_add(f"probe-{a}")).bump()
            await uow.commit()
    consumer = Consumer(engine, queue)
    try:
        total = aggregates * events * 2
        await wait_for(lambda: _drained(consumer, total), timeout=90, message=f"{total} deliveries")
        await wait_for(lambda: _sent(engine, total), timeout=30, message="all marked sent")
        await consumer.drain()
        assert len(consumer.deliveries) == total
        assert len({e.message_id for e in consumer.deliveries}) == total  # no row published twice
        assert consumer.order() == {f"probe-{a}": list(range(1, 2 * events + 1)) for a in range(aggregates)}
    finally:
        await engine.dispose()


async def _produce(database: str, aggregates: int, events: int) -> None:
    producer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.testing.outbox",
        "produce",
        "--database",
        database,
        "--aggregates",
        str(aggregates),
        "--events",
        str(events),
        cwd=ROOT,
    )
    assert await producer.wait() == 0


async def _drained(consumer: Consumer, count: int) -> bool:
    return await consumer.drain() >= count


async def _sent(engine: AsyncEngine, count: int) -> bool:
    return (await admin.outbox_stats(engine)).sent >= count


def _stays_pending(engine: AsyncEngine, count: int):  # type: ignore[no-untyped-def]
    """True once the relay has failed at least once on a pending row (its attempts are not counted)."""

    async def check() -> bool:
        stats = await admin.outbox_stats(engine)
        assert stats.pending == count, "rows left the outbox while the broker was unreachable"
        return stats.oldest_pending_age_seconds > 1.0

    return check
