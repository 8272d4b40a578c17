"""The relay against the real broker and both databases: commit -> publish, order, failures, wake-up, leases."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import aio_pika
import asyncpg
import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustConnection
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.inbox.store import sweep_inbox
from shared.messaging.connection import connect
from shared.messaging.envelope import Envelope
from shared.outbox import admin, claims
from shared.outbox import metrics as outbox_metrics
from shared.outbox.relay import OutboxRelay, RelaySettings
from shared.outbox.retention import sweep_sent
from shared.outbox.schema import outbox_messages
from shared.outbox.signal import NOTIFY_CHANNEL, notify_payload, signal_for
from shared.persistence.engine import create_engine
from shared.persistence.metadata import utcnow
from shared.persistence.unit_of_work import AlreadyHandled
from shared.testing.outbox import PROBE_EXCHANGE, ProbeHappened, ProbeUnitOfWork, bump, create_tables
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
async def connection(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    connection = await connect(amqp_url, connection_name="test-outbox")
    yield connection
    await connection.close()


@pytest.fixture
async def observer(connection: AbstractRobustConnection) -> AbstractQueue:
    channel = await connection.channel()
    exchange = await channel.declare_exchange(PROBE_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue("probe.observer", durable=True)
    await queue.bind(exchange, "probe.#")
    return queue


async def received(queue: AbstractQueue, count: int, timeout: float = 15.0) -> list[Envelope]:
    envelopes: list[Envelope] = []

    async def got_all() -> bool:
        while (message := await queue.get(fail=False)) is not None:
            envelopes.append(Envelope.from_message(message))
            await message.ack()
        return len(envelopes) >= count

    await wait_for(got_all, timeout=timeout, message=f"{count} messages")
    return envelopes


def relay_settings(**overrides: object) -> RelaySettings:
    return RelaySettings(**{"poll_interval": 0.2, "backoff_max": 0.5, **overrides})  # type: ignore[arg-type]


def fraud_message(correlation_id: str = "corr-1") -> Envelope:
    return Envelope(type="fraud.assessed.v1", correlation_id=correlation_id, producer="fraud", payload={})


@pytest.mark.parametrize("events", [1, 3])
async def test_rows_land_in_commit_order_when_written_without_notifying_relays(
    engine: AsyncEngine, events: int
) -> None:
    uow = ProbeUnitOfWork(engine)
    uow.notify_relays = False  # the plain INSERT (no RETURNING pg_notify), one row or one multi-row statement
    async with uow:
        probe = await uow.probes.get_or_add("quiet")
        for _ in range(events):
            probe.bump()
        await uow.commit()
    async with engine.connect() as db:
        rows = (await db.execute(select(outbox_messages).order_by(outbox_messages.c.id))).all()
    assert [ProbeHappened.model_validate_json(row.payload).seq for row in rows] == list(range(1, events + 1))
    assert {(row.status, row.attempts) for row in rows} == {("pending", 0)}


async def test_committed_events_are_published_with_envelope_when_relay_runs(
    engine: AsyncEngine, connection: AbstractRobustConnection, observer: AbstractQueue
) -> None:
    incoming = fraud_message("corr-2")
    uow = ProbeUnitOfWork(engine)
    async with uow.handling(incoming, handler="probe.on_fraud") as first_time:
        assert first_time
        probe = await uow.probes.get_or_add("p1")
        probe.bump()
        probe.bump()
        await uow.commit()
    relay = OutboxRelay(engine, connection, settings=relay_settings())
    await relay.start()
    try:
        envelopes = await received(observer, 2)
    finally:
        await relay.stop()
    assert [ProbeHappened.model_validate(e.payload).seq for e in envelopes] == [1, 2]
    assert {e.correlation_id for e in envelopes} == {"corr-2"}
    assert {e.causation_id for e in envelopes} == {str(incoming.message_id)}
    assert envelopes[0].type == "probe.happened.v1"
    assert envelopes[0].producer == "probe"
    assert (await admin.outbox_stats(engine)).sent == 2


async def test_nothing_is_written_or_published_when_unit_of_work_exits_without_commit(
    engine: AsyncEngine, connection: AbstractRobustConnection, observer: AbstractQueue
) -> None:
    async with ProbeUnitOfWork(engine) as uow:
        (await uow.probes.get_or_add("quiet")).bump()
        await uow.probes.flush()  # state written to the transaction, then abandoned

    async def fail_before_commit() -> None:
        async with ProbeUnitOfWork(engine) as uow:
            (await uow.probes.get_or_add("loud")).bump()
            uow.dispatch_task("probe.task", queue="probe.tasks")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_before_commit()
    relay = OutboxRelay(engine, connection, settings=relay_settings())
    assert await relay.run_once() == 0
    assert (await admin.outbox_stats(engine)).pending == 0
    assert await observer.get(fail=False) is None
    async with engine.connect() as db:
        assert (await db.execute(select(outbox_messages.c.id))).all() == []


async def test_effects_apply_once_when_the_same_message_is_handled_twice(engine: AsyncEngine) -> None:
    incoming = fraud_message()
    outcomes = []
    for _ in range(2):
        uow = ProbeUnitOfWork(engine)
        async with uow.handling(incoming, handler="probe.on_fraud") as first_time:
            outcomes.append(first_time)
            if first_time:
                (await uow.probes.get_or_add("once")).bump()
                await uow.commit()
    with pytest.raises(AlreadyHandled):
        async with ProbeUnitOfWork(engine).for_message(incoming, handler="probe.on_fraud"):
            pytest.fail("the body must not run for a duplicate")
    async with ProbeUnitOfWork(engine).for_message(incoming, handler="probe.other_handler") as uow:
        await uow.commit()  # another handler of the same message is not a duplicate
    assert outcomes == [True, False]
    assert (await admin.outbox_stats(engine)).pending == 1
    assert (
        REGISTRY.get_sample_value("warren_inbox_duplicates_absorbed_total", {"handler": "probe.on_fraud"})
        >= 2
    )  # type: ignore[operator]


async def test_each_aggregate_keeps_commit_order_when_many_aggregates_interleave(
    engine: AsyncEngine, connection: AbstractRobustConnection, observer: AbstractQueue
) -> None:
    for _ in range(8):
        for name in ("a", "b", "c", "d"):
            await bump(engine, name)
    relay = OutboxRelay(engine, connection, settings=relay_settings(batch_size=5))
    while await relay.run_once():
        pass
    envelopes = await received(observer, 32)
    by_probe: dict[str, list[int]] = {}
    for envelope in envelopes:
        event = ProbeHappened.model_validate(envelope.payload)
        by_probe.setdefault(event.probe_id, []).append(event.seq)
    assert by_probe == {name: list(range(1, 9)) for name in ("a", "b", "c", "d")}
    assert await observer.get(fail=False) is None  # each row published once
    async with engine.connect() as db:
        marks = (await db.execute(select(outbox_messages.c.status, outbox_messages.c.attempts))).all()
        sent_at = (await db.execute(select(outbox_messages.c.sent_at))).scalars().all()
    assert len(marks) == 32
    assert set(marks) == {("sent", 1)}  # every row marked once, after its confirm
    assert all(at is not None and utcnow() - at < timedelta(minutes=1) for at in sent_at)


async def test_unroutable_row_fails_without_blocking_others_when_no_queue_is_bound(
    engine: AsyncEngine, connection: AbstractRobustConnection, observer: AbstractQueue
) -> None:
    async with ProbeUnitOfWork(engine) as uow:
        uow.dispatch_task("probe.task", queue=f"nowhere-{uuid.uuid4().hex[:6]}", aggregate_id="x")
        (await uow.probes.get_or_add("x")).bump()
        (await uow.probes.get_or_add("y")).bump()
        await uow.commit()
    relay = OutboxRelay(engine, connection, settings=relay_settings())
    await relay.start()
    try:
        await received(observer, 2)
    finally:
        await relay.stop()
    failed = await admin.list_failed(engine)
    assert [(row.kind, row.message_type) for row in failed] == [("task", "probe.task")]
    assert "returned" in (failed[0].last_error or "")
    stats = await admin.outbox_stats(engine)
    assert (stats.failed, stats.pending, stats.sent) == (1, 0, 2)
    # The operator binds the queue and retries: the row goes out.
    channel = await connection.channel()
    queue = await channel.declare_queue(failed[0].routing_key, durable=True)
    assert await admin.retry_failed(engine, failed[0].id) == 1
    assert await relay.run_once() == 1
    assert await wait_for(lambda: queue.get(fail=False), timeout=5) is not None


async def test_failed_row_holds_its_aggregate_when_ordering_requires_it(
    engine: AsyncEngine, connection: AbstractRobustConnection, observer: AbstractQueue
) -> None:
    async with ProbeUnitOfWork(engine) as uow:
        uow.dispatch_task("probe.task", queue=f"nowhere-{uuid.uuid4().hex[:6]}", aggregate_id="held")
        await uow.commit()
    await bump(engine, "held")
    await bump(engine, "free")
    relay = OutboxRelay(engine, connection, settings=relay_settings(hold_aggregate_on_failure=True))
    await relay.run_once()
    await relay.run_once()
    envelopes = await received(observer, 1)
    assert [ProbeHappened.model_validate(e.payload).probe_id for e in envelopes] == ["free"]
    stats = await admin.outbox_stats(engine)
    assert (stats.failed, stats.pending) == (1, 1)
    failed = await admin.list_failed(engine)
    assert await admin.discard_failed(engine, failed[0].id)
    await relay.run_once()
    assert [ProbeHappened.model_validate(e.payload).probe_id for e in await received(observer, 1)] == ["held"]


async def test_too_large_row_is_marked_failed_when_it_exceeds_the_limit(
    engine: AsyncEngine, connection: AbstractRobustConnection, observer: AbstractQueue
) -> None:
    async with ProbeUnitOfWork(engine) as uow:
        (await uow.probes.get_or_add("big")).bump(padding="x" * 5000)
        await uow.commit()
    relay = OutboxRelay(engine, connection, settings=relay_settings(max_message_bytes=1000))
    assert await relay.run_once() == 0
    [failed] = await admin.list_failed(engine)
    assert "MessageTooLarge" in (failed.last_error or "")


async def test_relay_publishes_at_once_when_a_commit_wakes_it(
    engine: AsyncEngine, connection: AbstractRobustConnection, observer: AbstractQueue
) -> None:
    # A poll interval far beyond the deadline: only the wake-up can deliver in time.
    relay = OutboxRelay(engine, connection, settings=relay_settings(poll_interval=60))
    await relay.start()
    try:
        await bump(engine, "fast")
        await received(observer, 1, timeout=3)
    finally:
        await relay.stop()


async def test_relay_in_another_process_wakes_when_postgres_notifies(
    postgres_url: str, connection: AbstractRobustConnection, observer: AbstractQueue
) -> None:
    # Two engines share no in-process signal, exactly like two processes: only LISTEN/NOTIFY wakes the relay.
    relay_engine, writer_engine = create_engine(postgres_url), create_engine(postgres_url)
    await create_tables(writer_engine)
    relay = OutboxRelay(relay_engine, connection, settings=relay_settings(poll_interval=60))
    await relay.start()
    try:
        await bump(writer_engine, "notified")
        await received(observer, 1, timeout=3)
    finally:
        await relay.stop()
        await relay_engine.dispose()
        await writer_engine.dispose()


async def test_second_relay_waits_when_another_holds_the_sqlite_lease(
    sqlite_url: str, connection: AbstractRobustConnection, observer: AbstractQueue
) -> None:
    engine = create_engine(sqlite_url)
    await create_tables(engine)
    settings = relay_settings(lease_ttl=timedelta(seconds=30))
    first = OutboxRelay(engine, connection, settings=settings)
    second = OutboxRelay(engine, connection, settings=settings)
    await first.start()
    try:
        await wait_for(lambda: first.has_lease, timeout=5)
        await second.start()
        await bump(engine, "leased", times=3)
        await received(observer, 3)
        assert not second.has_lease
        await first.stop()  # releases the lease: the second takes over without waiting for expiry
        await wait_for(lambda: second.has_lease, timeout=15)
        await bump(engine, "leased")
        await received(observer, 1)
    finally:
        await first.stop()
        await second.stop()
        await engine.dispose()


async def test_sweeps_delete_only_old_rows_when_retention_runs(engine: AsyncEngine) -> None:
    await bump(engine, "old", times=3)
    async with engine.begin() as db:
        await db.execute(
            outbox_messages.update()
            .where(outbox_messages.c.id <= 2)
            .values(status="sent", sent_at=utcnow() - timedelta(days=2))
        )
    assert await sweep_sent(engine, older_than=timedelta(days=1), batch_size=1) == 2
    stats = await admin.outbox_stats(engine)
    assert (stats.sent, stats.pending) == (0, 1)
    uow = ProbeUnitOfWork(engine)
    async with uow.handling(fraud_message(), handler="probe.h"):
        await uow.commit()
    assert await sweep_inbox(engine, older_than=timedelta(days=1)) == 0
    assert await sweep_inbox(engine, older_than=timedelta(seconds=-1)) == 1


async def test_running_relay_sweeps_old_rows_and_sets_gauges_when_it_starts(
    engine: AsyncEngine, connection: AbstractRobustConnection, observer: AbstractQueue
) -> None:
    await bump(engine, "kept", times=2)
    async with engine.begin() as db:
        await db.execute(
            outbox_messages.update()
            .where(outbox_messages.c.id == 1)
            .values(status="sent", sent_at=utcnow() - timedelta(days=2))
        )
    # The loop publishes row 2; the housekeeping task (its own task, first sweep at start) deletes row 1.
    outbox_metrics.PENDING_ROWS.set(-1)  # so the gauge's 0 below is this relay's reading
    relay = OutboxRelay(engine, connection, settings=relay_settings(stats_interval=0.2))
    await relay.start()
    try:
        await received(observer, 1)

        async def swept() -> bool:
            async with engine.connect() as db:
                ids = (await db.execute(select(outbox_messages.c.id))).scalars().all()
            return list(ids) == [2]

        await wait_for(swept, timeout=10, message="the old sent row swept")
        await wait_for(
            lambda: REGISTRY.get_sample_value("warren_outbox_pending_rows") == 0.0,
            timeout=10,
            message="pending gauge at 0",
        )
    finally:
        await relay.stop()


async def test_metrics_count_published_rows_and_lag_when_relay_publishes(
    engine: AsyncEngine, connection: AbstractRobustConnection, observer: AbstractQueue
) -> None:
    before = REGISTRY.get_sample_value("warren_outbox_published_total", {"kind": "event"}) or 0.0
    lag_before = REGISTRY.get_sample_value("warren_outbox_relay_lag_seconds_count") or 0.0
    await bump(engine, "m", times=2)
    relay = OutboxRelay(engine, connection, settings=relay_settings())
    assert await relay.run_once() == 2
    assert REGISTRY.get_sample_value("warren_outbox_published_total", {"kind": "event"}) == before + 2
    assert REGISTRY.get_sample_value("warren_outbox_relay_lag_seconds_count") == lag_before + 2


async def test_relay_ignores_notifications_of_its_own_engine_and_wakes_on_others(
    postgres_url: str, connection: AbstractRobustConnection
) -> None:
    # A commit through the relay's own engine wakes it in-process; its NOTIFY, a moment later, must not wake it
    # a second time for an empty batch (at a trickle that was four batches in ten, each a transaction).
    engine = create_engine(postgres_url)
    await create_tables(engine)
    relay = OutboxRelay(engine, connection, settings=relay_settings(poll_interval=60))
    wakes: list[str] = []
    signal = signal_for(engine)
    notify = signal.notify

    def counting() -> None:
        wakes.append("wake")
        notify()

    signal.notify = counting  # type: ignore[method-assign]
    await relay.start()
    notifier = await asyncpg.connect(postgres_url.replace("+asyncpg", ""))
    try:
        await notifier.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, notify_payload(engine))
        await notifier.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, "another-host:1:abc")
        # Notifications arrive in order: once the second woke the relay, the first one was seen and skipped.
        await wait_for(lambda: bool(wakes), timeout=5)
        assert wakes == ["wake"]
    finally:
        await notifier.close()
        await relay.stop()
        signal.notify = notify  # type: ignore[method-assign]
        await engine.dispose()


async def test_relay_replaces_its_kept_connection_when_the_database_drops_it(
    postgres_url: str, connection: AbstractRobustConnection, observer: AbstractQueue
) -> None:
    # The relay keeps one connection for its batches; when the server ends it, a batch fails (backed off) and
    # the next takes a fresh connection: nothing is lost.
    engine = create_engine(postgres_url)
    await create_tables(engine)
    relay = OutboxRelay(engine, connection, settings=relay_settings(poll_interval=0.2))
    await relay.start()
    admin_connection = await asyncpg.connect(postgres_url.replace("+asyncpg", ""))
    try:
        await bump(engine, "before")
        await received(observer, 1, timeout=5)
        # Every other session of this database goes: the relay's kept connection, its listener, the pool's.
        await admin_connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        writer = create_engine(postgres_url)  # the pool of `engine` lost its connections too
        await bump(writer, "after")
        await writer.dispose()
        seen: list[str] = []

        async def after_published() -> bool:
            # At least once: if the drop came between the publish of "before" and its mark, it goes out again.
            seen.extend(e.payload["probe_id"] for e in await received(observer, 0, timeout=1))
            return "after" in seen

        await wait_for(after_published, timeout=10, message="the row committed after the drop")
        assert set(seen) <= {"before", "after"}
    finally:
        await admin_connection.close()
        await relay.stop()
        await engine.dispose()


async def test_one_commit_writes_thousands_of_rows_in_order_when_they_exceed_one_statement(
    engine: AsyncEngine,
) -> None:
    # 2,600 rows x 13 parameters passes PostgreSQL's 32,767 parameters a statement: written in chunks, in order.
    async with ProbeUnitOfWork(engine) as uow:
        for seq in range(2600):
            uow.record(ProbeHappened(probe_id="bulk", seq=seq), aggregate_id="bulk")
        await uow.commit()
    async with engine.connect() as connection:
        rows = (
            await connection.execute(select(outbox_messages.c.payload).order_by(outbox_messages.c.id))
        ).all()
    assert [json.loads(r.payload)["seq"] for r in rows] == list(range(2600))


async def test_postgres_relay_transaction_commits_asynchronously_and_marks_with_its_commit(
    postgres_url: str,
) -> None:
    """The relay's transaction skips the WAL flush (its marks are replayable) and sends the mark with the COMMIT;
    a failed batch leaves its rows pending."""
    engine = create_engine(postgres_url)
    await create_tables(engine)
    try:
        await bump(engine, str(uuid.uuid4()))
        async with claims.batch_connection(engine) as db:
            async with db.transaction():
                [(mode,)] = await db._fetch("SHOW synchronous_commit")
                rows = await db.fetch_batch(limit=10, lock=True, hold_on_failure=False)
                await db.mark_sent([row["id"] for row in rows], at=utcnow())
                [(pending,)] = await db._fetch(
                    "SELECT count(*) FROM outbox_messages WHERE status = 'pending'"
                )
            assert (mode, len(rows), pending) == ("off", 1, 1)  # the mark waits for the commit
            [(mode_after,)] = await db._fetch("SHOW synchronous_commit")
            assert mode_after == "on"  # SET LOCAL: the pooled connection is unchanged after the batch
            await bump(engine, str(uuid.uuid4()))
            with pytest.raises(RuntimeError):
                await _fail_batch_after_mark(db)
        async with engine.connect() as connection:
            statuses = (await connection.execute(select(outbox_messages.c.status))).scalars().all()
        assert sorted(statuses) == ["pending", "sent"]
    finally:
        await engine.dispose()


async def _fail_batch_after_mark(db: claims.BatchConnection) -> None:
    async with db.transaction():
        rows = await db.fetch_batch(limit=10, lock=True, hold_on_failure=False)
        await db.mark_sent([row["id"] for row in rows], at=utcnow())
        raise RuntimeError("broker gone mid-batch")


async def test_started_relay_keeps_its_own_connection_and_leaves_the_pool_to_units_of_work(
    engine: AsyncEngine, connection: AbstractRobustConnection, observer: AbstractQueue
) -> None:
    """Between batches the relay holds a connection of its own: on SQLite outside the pool (whose one connection
    serves the units of work), on PostgreSQL checked out of it. Stopping closes it."""
    relay = OutboxRelay(engine, connection, settings=relay_settings())
    await relay.start()
    try:
        await bump(engine, "held")
        await received(observer, 1)
        await bump(engine, "held")  # a unit of work while the relay holds its connection
        await received(observer, 1)
        held = relay._held._own if engine.dialect.name == "sqlite" else relay._held._connection
        assert held is not None
        # PostgreSQL: the batch connection and the LISTEN connection.
        expected = 0 if engine.dialect.name == "sqlite" else 2
        assert engine.pool.checkedout() == expected  # type: ignore[attr-defined]
    finally:
        await relay.stop()
    assert (relay._held._own, relay._held._connection) == (None, None)
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert (await admin.outbox_stats(engine)).sent == 2
