"""The inbox mark commits with the handler's effects or not at all, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.inbox.store import was_handled
from shared.messaging.envelope import Envelope
from shared.outbox.schema import outbox_messages
from shared.testing.outbox import ProbeHappened, ProbeUnitOfWork

pytestmark = pytest.mark.integration


def incoming() -> Envelope:
    return Envelope(type="fraud.assessed.v1", correlation_id="c", producer="fraud", payload={})


async def handled(engine: AsyncEngine, message: Envelope) -> bool:
    async with engine.connect() as db:
        return await was_handled(db, handler="probe.h", message_id=str(message.message_id))


async def outbox_count(engine: AsyncEngine) -> int:
    async with engine.connect() as db:
        return int((await db.execute(select(func.count()).select_from(outbox_messages))).scalar_one())


async def test_mark_is_rolled_back_when_the_handler_fails_before_commit(engine: AsyncEngine) -> None:
    message = incoming()
    with pytest.raises(RuntimeError):
        async with ProbeUnitOfWork(engine).for_message(message, handler="probe.h"):
            raise RuntimeError("handler failed after the mark")
    assert not await handled(engine, message)  # the redelivery runs the handler again
    async with ProbeUnitOfWork(engine).for_message(message, handler="probe.h") as uow:
        assert uow.first_time
        (await uow.probes.get_or_add("p")).bump()
        await uow.commit()
    assert await handled(engine, message)


async def test_mark_and_outbox_row_commit_together_when_the_handler_only_records_an_event(
    engine: AsyncEngine,
) -> None:
    message = incoming()
    async with ProbeUnitOfWork(engine).for_message(message, handler="probe.h") as uow:
        uow.record(ProbeHappened(probe_id="p", seq=1), aggregate_id="p")
        await uow.commit()
    assert await handled(engine, message)
    assert await outbox_count(engine) == 1

    failing = incoming()
    async with ProbeUnitOfWork(engine).for_message(failing, handler="probe.h") as uow:
        uow.record(ProbeHappened(probe_id="q", seq=1), aggregate_id="q")
        # left without commit: neither the mark nor the row
    assert not await handled(engine, failing)
    assert await outbox_count(engine) == 1
