"""The notification table on SQLite and PostgreSQL: migrations, the uniqueness rule, claims, sweeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from notification.adapters.migrate import upgrade
from notification.adapters.rendering import Renderer
from notification.adapters.repository import DeliveryStore, NotificationRepository
from notification.adapters.unit_of_work import NotificationUnitOfWork
from notification.config import NotificationSettings
from notification.domain.decisions import Audience
from notification.domain.model import Channel, Notification, Status
from notification.entrypoints.delivery_runtime import DeliveryRuntime
from notification.entrypoints.sweeps import redispatch_stalled, sweep_retention
from notification.service_layer.handlers import notify
from notification.tests.factories import envelope_for, outcome
from notification.tests.harness import pending_tasks
from shared.inbox.schema import inbox_messages
from shared.outbox.messages import task_row
from shared.outbox.schema import outbox_messages
from shared.persistence.engine import create_engine

pytestmark = pytest.mark.integration

LEASE = timedelta(minutes=5)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def a_notification(nid: str = "n1", created_at: datetime | None = None) -> Notification:
    return Notification(
        id=nid,
        dedupe_key=f"payment.captured:{nid}",
        channel=Channel.EMAIL,
        recipient="ada@example.com",
        template="payment_captured",
        subject="s",
        body_text="t",
        body_html="<p>h</p>",
        correlation_id="c",
        created_at=created_at or datetime.now(UTC),
    )


async def test_second_notification_for_the_same_outcome_is_refused_when_inserted(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await NotificationRepository(connection).add(a_notification("n1"))
    duplicate = a_notification("n2")
    duplicate.dedupe_key = "payment.captured:n1"  # same outcome, channel and recipient under another id
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await NotificationRepository(connection).add(duplicate)


async def test_handler_stores_one_row_when_the_event_arrives_twice(engine: AsyncEngine) -> None:
    event = outcome("cancelled")
    audience = Audience(operator_email="ops@warren.test")
    first = await notify(
        event, envelope_for(event), uow=NotificationUnitOfWork(engine), audience=audience, renderer=Renderer()
    )
    # The same outcome under another message id (the inbox cannot tell): the stable id can.
    second = await notify(
        event, envelope_for(event), uow=NotificationUnitOfWork(engine), audience=audience, renderer=Renderer()
    )
    assert len(first) == 1
    assert second == []
    stored = await DeliveryStore(engine).load(first[0])
    assert stored is not None
    assert stored.status is Status.PENDING
    assert stored.created_at.tzinfo is not None
    assert await pending_tasks(engine) == [("notification.deliver_email",)]


async def test_only_one_of_two_racing_tasks_claims_when_both_try_at_once(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await NotificationRepository(connection).add(a_notification())
    store = DeliveryStore(engine)
    now = datetime.now(UTC)
    results = await asyncio.gather(store.claim("n1", "t1", now, LEASE), store.claim("n1", "t2", now, LEASE))
    assert sorted(claimed for _, claimed in results) == [False, True]
    stored = await store.load("n1")
    assert stored is not None
    assert stored.attempts == 1


async def test_outcome_is_not_overwritten_when_another_task_took_the_claim_over(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await NotificationRepository(connection).add(a_notification())
    store = DeliveryStore(engine)
    now = datetime.now(UTC)
    stale, claimed = await store.claim("n1", "t1", now - LEASE * 2, LEASE)
    assert claimed
    assert stale is not None
    fresh, claimed_again = await store.claim("n1", "t2", now, LEASE)
    assert claimed_again
    assert fresh is not None
    stale.record_failure("late result of an abandoned attempt", now)
    assert await store.save(stale) is False
    fresh.record_sent(now)
    assert await store.save(fresh) is True


async def test_sweeps_redispatch_stalled_and_drop_old_finished_rows_when_run(
    engine: AsyncEngine, database_url: str
) -> None:
    old = datetime.now(UTC) - timedelta(days=60)
    async with engine.begin() as connection:
        repository = NotificationRepository(connection)
        await repository.add(a_notification("stalled", created_at=old))
        await repository.add(a_notification("fresh"))
        finished = a_notification("finished", created_at=old)
        finished.record_sent(old)
        await repository.add(finished)
        await connection.execute(
            inbox_messages.insert().values(
                handler="notification.on_stock_low", message_id="m-old", handled_at=old
            )
        )
        sent_row = task_row(
            "notification.deliver_email",
            args=["finished"],
            kwargs={},
            queue="notifications.email",
            producer="notification",
            aggregate_id=None,
            correlation_id="c",
            causation_id=None,
            traceparent=None,
            created_at=old,
        )
        await connection.execute(outbox_messages.insert().values(**sent_row, status="sent", sent_at=old))
    runtime = DeliveryRuntime(NotificationSettings(database_url=database_url))
    sent: list[tuple[str, list[str], str]] = []
    try:
        assert (
            await asyncio.to_thread(
                runtime.run,
                redispatch_stalled(runtime, lambda name, args, queue: sent.append((name, args, queue))),
            )
            == 1
        )
        assert await asyncio.to_thread(runtime.run, sweep_retention(runtime)) == {
            "notifications": 1,
            "outbox": 1,
            "inbox": 1,
        }
    finally:
        await asyncio.to_thread(runtime.close)
    assert sent == [("notification.deliver_email", ["stalled"], "notifications.email")]
    assert await DeliveryStore(engine).load("finished") is None
