"""The unit of work on a local SQLite file: events move into outbox rows at commit and nowhere else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opentelemetry import trace
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.messaging.envelope import Envelope
from shared.outbox.schema import outbox_messages
from shared.outbox.signal import signal_for
from shared.persistence.engine import create_engine
from shared.persistence.unit_of_work import AlreadyHandled
from shared.testing.outbox import ProbeHappened, ProbeUnitOfWork, create_tables


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'unit.db'}")
    await create_tables(engine)
    yield engine
    await engine.dispose()


async def rows(engine: AsyncEngine) -> list[dict[str, object]]:
    async with engine.connect() as db:
        result = await db.execute(select(outbox_messages).order_by(outbox_messages.c.id))
        return [dict(row._mapping) for row in result]


async def test_commit_writes_one_row_per_event_in_recording_order_when_aggregates_record(
    engine: AsyncEngine,
) -> None:
    uow = ProbeUnitOfWork(engine, correlation_id="http-req-1")
    async with uow:
        probe = await uow.probes.get_or_add("p")
        probe.bump()
        probe.bump()
        uow.record(ProbeHappened(probe_id="loose", seq=9), aggregate_id="loose")
        uow.dispatch_task("probe.task", queue="probe.tasks", args=[1])
        await uow.commit()
        assert probe.events == []  # moved, not copied
    written = await rows(engine)
    assert [(r["kind"], r["aggregate_id"], r["status"]) for r in written] == [
        ("event", "p", "pending"),
        ("event", "p", "pending"),
        ("event", "loose", "pending"),
        ("task", None, "pending"),
    ]
    assert {r["correlation_id"] for r in written} == {"http-req-1"}
    assert {r["causation_id"] for r in written} == {None}


async def test_events_carry_the_handled_message_causality_when_bound_to_it(engine: AsyncEngine) -> None:
    incoming = Envelope(
        type="fraud.assessed.v1",
        correlation_id="corr",
        producer="fraud",
        payload={},
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    uow = ProbeUnitOfWork(engine)
    async with uow.handling(incoming, handler="probe.h"):
        (await uow.probes.get_or_add("p")).bump()
        await uow.commit()
    [row] = await rows(engine)
    assert (row["correlation_id"], row["causation_id"]) == ("corr", str(incoming.message_id))
    assert row["traceparent"] == incoming.traceparent


async def test_events_carry_the_active_span_and_no_traceparent_without_one_when_not_bound_to_a_message(
    engine: AsyncEngine,
) -> None:
    span = trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id=0x0AF7651916CD43DD8448EB211C80319C,
            span_id=0xB7AD6B7169203331,
            is_remote=False,
            trace_flags=trace.TraceFlags(1),
        )
    )
    with trace.use_span(span):
        async with ProbeUnitOfWork(engine) as uow:
            (await uow.probes.get_or_add("traced")).bump()
            await uow.commit()
    async with ProbeUnitOfWork(engine) as uow:
        (await uow.probes.get_or_add("untraced")).bump()
        await uow.commit()
    traced, untraced = await rows(engine)
    assert traced["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert untraced["traceparent"] is None


async def test_connection_and_write_turn_are_given_back_when_a_duplicate_is_refused_on_entry(
    engine: AsyncEngine,
) -> None:
    incoming = Envelope(type="fraud.assessed.v1", correlation_id="c", producer="fraud", payload={})
    async with ProbeUnitOfWork(engine).for_message(incoming, handler="probe.h") as uow:
        await uow.commit()
    with pytest.raises(AlreadyHandled):
        async with ProbeUnitOfWork(engine).for_message(incoming, handler="probe.h"):
            pytest.fail("a duplicate must not run the body")
    assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    async with asyncio.timeout(1):  # the turn is free: a second writer enters at once
        async with ProbeUnitOfWork(engine) as uow:
            (await uow.probes.get_or_add("next")).bump()
            await uow.commit()
    assert [row["aggregate_id"] for row in await rows(engine)] == ["next"]


async def test_nothing_is_written_when_the_block_is_left_without_commit(engine: AsyncEngine) -> None:
    uow = ProbeUnitOfWork(engine)
    async with uow:
        (await uow.probes.get_or_add("p")).bump()
        uow.dispatch_task("probe.task", queue="probe.tasks")
    async with uow:
        assert await uow.probes.get("p") is None
        await uow.commit()  # the earlier unit's recordings are gone with its rollback
    assert await rows(engine) == []


async def test_relay_signal_is_set_when_a_commit_wrote_rows(engine: AsyncEngine) -> None:
    signal = signal_for(engine)
    assert not await signal.wait(0)
    async with ProbeUnitOfWork(engine) as uow:
        await uow.commit()
    assert not await signal.wait(0)  # nothing to publish, nothing to wake
    async with ProbeUnitOfWork(engine) as uow:
        (await uow.probes.get_or_add("p")).bump()
        await uow.commit()
    assert await signal.wait(0)


async def test_units_of_work_take_turns_and_all_commit_when_many_run_at_once_on_sqlite(
    engine: AsyncEngine,
) -> None:
    async def bump_shared() -> None:
        async with ProbeUnitOfWork(engine) as uow:
            probe = await uow.probes.get_or_add("shared")
            await asyncio.sleep(0)  # let the others try to interleave between the read and the write
            probe.bump()
            await uow.commit()

    async def fail_midway() -> None:
        async with ProbeUnitOfWork(engine) as uow:
            await uow.probes.get_or_add("shared")
            raise RuntimeError("handler failed")

    await bump_shared()
    outcomes = await asyncio.gather(
        *(bump_shared() for _ in range(10)),
        fail_midway(),
        *(bump_shared() for _ in range(10)),
        return_exceptions=True,
    )
    assert [type(o) for o in outcomes if o is not None] == [RuntimeError]  # a failed unit gave its turn back
    async with ProbeUnitOfWork(engine) as uow:
        probe = await uow.probes.get("shared")
        assert probe is not None
        assert probe.seq == 21  # no lost update, no "database is locked"
    assert [row["message_type"] for row in await rows(engine)] == ["probe.happened.v1"] * 21
