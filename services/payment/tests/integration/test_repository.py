import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from payment.adapters.migrate import upgrade
from payment.adapters.unit_of_work import SqlPaymentUnitOfWork
from payment.domain.model import ChargeApproved, PaymentStatus
from payment.service_layer import handlers
from payment.service_layer.handlers import ChargePolicy, Services
from payment.service_layer.ports import ConcurrencyConflict
from shared.contracts import envelope_for
from shared.contracts.fraud import FraudAssessed, FraudDecision
from shared.outbox.schema import outbox_messages
from shared.persistence.engine import create_engine
from shared.persistence.unit_of_work import AlreadyHandled

from ..unit.factories import T0, checkout
from ..unit.fakes import FakeClock, FakeGateway

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def services(engine: AsyncEngine) -> Services:
    return Services(
        uow=lambda: SqlPaymentUnitOfWork(engine),
        gateway=FakeGateway(),
        clock=FakeClock(),
        policy=ChargePolicy(time_to_deadline=timedelta(seconds=60)),
    )


async def test_payment_round_trips_with_its_history_when_stored_and_read(services: Services) -> None:
    created = await handlers.request_payment(checkout(), "k1", services, new_id=lambda: "pay-1")
    async with services.uow() as uow:
        payment = await uow.payments.get("pay-1")
        assert payment is not None
        payment.record_fraud(FraudDecision.APPROVED, 5, ("ok",), now=T0)
        payment.record_stock_reserved("res-1", now=T0)
        assert payment.claim_charge(now=T0, lease=timedelta(seconds=5))
        payment.record_charge(ChargeApproved("ch_1"), now=T0)
        await uow.commit()
    read = await handlers.get_payment("pay-1", services)
    assert read.status is PaymentStatus.CAPTURED
    assert read.checkout == created.checkout
    assert [s.name for s in read.history] == [s.name for s in payment.history]
    assert read.history[0].at == created.created_at
    assert read.deadline == created.deadline
    assert read.version == 2


async def test_stale_write_raises_conflict_when_another_unit_of_work_committed_first(
    services: Services,
) -> None:
    await handlers.request_payment(checkout(), "k1", services, new_id=lambda: "pay-1")
    async with services.uow() as first:
        stale = await first.payments.get("pay-1")
        assert stale is not None
        stale.record_stock_reserved("res-1", now=T0)
        # Rows are read FOR UPDATE, so two live transactions cannot race here: fake a read of an older version.
        stale.version -= 1
        with pytest.raises(ConcurrencyConflict):
            await first.commit()


async def test_resumed_payment_is_written_without_a_read_and_conflicts_when_changed_since(
    services: Services,
) -> None:
    await handlers.request_payment(checkout(), "k1", services, new_id=lambda: "pay-1")
    async with services.uow() as uow:
        claimed = await uow.payments.get("pay-1")
        assert claimed is not None
        claimed.record_stock_reserved("res-1", now=T0)
        await uow.commit()
    async with services.uow() as uow:  # as this worker committed it: written on without a read
        uow.payments.resume(claimed).record_stock_settled(False, "res-1: test", now=T0)
        await uow.commit()
    async with services.uow() as other:  # someone else commits a change meanwhile
        changed = await other.payments.get("pay-1")
        assert changed is not None
        changed.record_stock_settled(True, "res-1", now=T0)
        await other.commit()
    async with services.uow() as uow:
        uow.payments.resume(claimed).charge_attempts += 1  # any change: its write checks the version
        with pytest.raises(ConcurrencyConflict):
            await uow.commit()
    async with services.uow() as uow:
        stored = await uow.payments.read("pay-1")
    assert stored is not None
    assert stored.version == 4
    assert [s.detail for s in stored.history][-1] == "res-1"


async def test_concurrent_requests_with_one_key_store_one_payment_when_they_race(services: Services) -> None:
    ids = iter(f"pay-{n}" for n in range(100))
    results = await asyncio.gather(
        *(handlers.request_payment(checkout(), "same", services, new_id=lambda: next(ids)) for _ in range(5))
    )
    assert len({p.id for p in results}) == 1


async def test_due_for_charge_lists_only_due_payments_when_asked(services: Services) -> None:
    await handlers.request_payment(checkout(), "k1", services, new_id=lambda: "pay-1")
    await handlers.request_payment(checkout(order_id="o2"), "k2", services, new_id=lambda: "pay-2")
    async with services.uow() as uow:
        payment = await uow.payments.get("pay-1")
        assert payment is not None
        payment.record_fraud(FraudDecision.APPROVED, 5, (), now=T0)
        payment.record_stock_reserved("res-1", now=T0)
        await uow.commit()
    async with services.uow() as uow:
        assert list(await uow.payments.due_for_charge(T0, 10)) == ["pay-1"]
        assert list(await uow.payments.due_for_charge(T0 - timedelta(seconds=1), 10)) == []


async def test_events_reach_the_outbox_with_the_state_when_committed(
    services: Services, engine: AsyncEngine
) -> None:
    await handlers.request_payment(checkout(), "k1", services, new_id=lambda: "pay-1")
    async with services.uow() as uow:
        payment = await uow.payments.get("pay-1")
        assert payment is not None
        payment.record_stock_rejected("insufficient stock", ("sku-1",), now=T0)
        # Not committed: neither the state nor the event may leave.
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(
                    outbox_messages.c.message_type,
                    outbox_messages.c.aggregate_id,
                    outbox_messages.c.correlation_id,
                )
            )
        ).all()
    assert [tuple(r) for r in rows] == [("payment.requested.v1", "pay-1", "pay-1")]
    assert (await handlers.get_payment("pay-1", services)).status is PaymentStatus.PENDING


async def test_a_message_is_handled_once_when_it_is_delivered_twice(
    engine: AsyncEngine, services: Services
) -> None:
    await handlers.request_payment(checkout(), "k1", services, new_id=lambda: "pay-1")
    assessed = FraudAssessed(payment_id="pay-1", decision=FraudDecision.REVIEW, score=60)
    envelope = envelope_for(assessed)

    def uow_for_message() -> SqlPaymentUnitOfWork:
        return SqlPaymentUnitOfWork(engine).for_message(envelope, handler="payment.on_fraud_assessed")

    await handlers.on_fraud_assessed(assessed, uow_for_message, services)
    with pytest.raises(AlreadyHandled):
        await handlers.on_fraud_assessed(assessed, uow_for_message, services)
    async with engine.connect() as connection:
        types = (await connection.execute(select(outbox_messages.c.message_type))).scalars().all()
    assert types == ["payment.requested.v1", "payment.review_required.v1"]
