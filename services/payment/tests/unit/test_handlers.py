import copy
from datetime import timedelta

import pytest

from payment.domain.model import ChargeResult, NotInReview, PaymentStatus, ReviewDecision
from payment.service_layer import handlers
from payment.service_layer.handlers import ChargePolicy, IdempotencyKeyReused, Services, UnknownPayment
from shared.contracts.fraud import FraudAssessed, FraudDecision
from shared.contracts.inventory import StockRejected, StockReserved
from shared.contracts.payment import (
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentRequested,
)

from .factories import T0, checkout
from .fakes import FakeClock, FakeGateway, FakeStore, FakeUnitOfWork

POLICY = ChargePolicy(
    time_to_deadline=timedelta(seconds=60), lease=timedelta(seconds=10), retry_base=timedelta(seconds=1)
)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def services(store: FakeStore, gateway: FakeGateway, clock: FakeClock) -> Services:
    return Services(uow=lambda: FakeUnitOfWork(store), gateway=gateway, clock=clock, policy=POLICY)


def message_uow(store: FakeStore, message_id: str):  # type: ignore[no-untyped-def]
    return lambda: FakeUnitOfWork(store, inbox_key=message_id)


async def new_payment(services: Services, token: str = "tok_visa", key: str = "key-1") -> str:
    ids = iter(["pay-1", "pay-2", "pay-3"])
    payment = await handlers.request_payment(checkout(token=token), key, services, new_id=lambda: next(ids))
    return payment.id


def approved(payment_id: str) -> FraudAssessed:
    return FraudAssessed(payment_id=payment_id, decision=FraudDecision.APPROVED, score=3)


def reserved(payment_id: str) -> StockReserved:
    return StockReserved(payment_id=payment_id, reservation_id="res-1", items=())


def outcome_types(store: FakeStore) -> list[str]:
    return [e.message_type for e in store.outbox]


async def test_request_stores_the_payment_and_records_requested_when_the_key_is_new(
    services: Services, store: FakeStore
) -> None:
    payment_id = await new_payment(services)
    assert store.payments[payment_id].status is PaymentStatus.PENDING
    assert [type(e) for e in store.outbox] == [PaymentRequested]


async def test_request_answers_the_same_payment_when_the_key_and_body_repeat(
    services: Services, store: FakeStore
) -> None:
    first = await new_payment(services)
    second = await new_payment(services)
    assert first == second
    assert len(store.payments) == 1
    assert len(store.outbox) == 1


async def test_request_raises_when_the_key_repeats_with_another_body(services: Services) -> None:
    await new_payment(services)
    with pytest.raises(IdempotencyKeyReused):
        await new_payment(services, token="tok_chargeDeclined")


@pytest.mark.parametrize("fraud_first", [True, False])
async def test_payment_is_captured_once_when_both_outcomes_arrive_in_either_order_and_twice(
    services: Services, store: FakeStore, gateway: FakeGateway, fraud_first: bool
) -> None:
    payment_id = await new_payment(services)
    steps = [
        lambda n: handlers.on_fraud_assessed(approved(payment_id), message_uow(store, f"f{n}"), services),
        lambda n: handlers.on_stock_reserved(reserved(payment_id), message_uow(store, f"s{n}"), services),
    ]
    order = steps if fraud_first else list(reversed(steps))
    for n in range(2):  # every event delivered twice
        for step in order:
            await step(n)
    assert store.payments[payment_id].status is PaymentStatus.CAPTURED
    assert gateway.calls == [payment_id]
    assert outcome_types(store).count(PaymentCaptured.message_type) == 1


async def test_charge_answer_is_recorded_on_the_fresh_payment_when_it_changed_during_the_call(
    services: Services, store: FakeStore, gateway: FakeGateway
) -> None:
    # The answer is normally written on the claimed payment without a read; a change committed while the
    # gateway answered (here a history step) must not be overwritten: the payment is read again.
    payment_id = await new_payment(services)
    await handlers.on_fraud_assessed(approved(payment_id), message_uow(store, "f"), services)
    charge = gateway.charge

    async def charge_while_someone_writes(**kwargs: object) -> ChargeResult:
        changed = copy.deepcopy(store.payments[payment_id])
        changed.record_stock_settled(True, "res-elsewhere", now=T0)
        store.payments[payment_id] = changed
        return await charge(**kwargs)  # type: ignore[arg-type]

    gateway.charge = charge_while_someone_writes  # type: ignore[method-assign]
    await handlers.on_stock_reserved(reserved(payment_id), message_uow(store, "s"), services)
    stored = store.payments[payment_id]
    assert stored.status is PaymentStatus.CAPTURED
    assert "res-elsewhere" in [step.detail for step in stored.history]  # the concurrent change survived
    assert outcome_types(store).count(PaymentCaptured.message_type) == 1


async def test_payment_is_declined_with_the_reason_when_the_card_has_no_funds(
    services: Services, store: FakeStore
) -> None:
    payment_id = await new_payment(services, token="tok_insufficientFunds")
    await handlers.on_fraud_assessed(approved(payment_id), message_uow(store, "f"), services)
    await handlers.on_stock_reserved(reserved(payment_id), message_uow(store, "s"), services)
    payment = store.payments[payment_id]
    assert payment.status is PaymentStatus.DECLINED
    assert payment.reason == "insufficient_funds"
    assert outcome_types(store)[-1] == PaymentDeclined.message_type


async def test_payment_is_cancelled_without_a_charge_when_stock_is_rejected(
    services: Services, store: FakeStore, gateway: FakeGateway
) -> None:
    payment_id = await new_payment(services)
    await handlers.on_stock_rejected(
        StockRejected(payment_id=payment_id, reason="insufficient stock"), message_uow(store, "s"), services
    )
    await handlers.on_fraud_assessed(approved(payment_id), message_uow(store, "f"), services)
    assert store.payments[payment_id].status is PaymentStatus.CANCELLED
    assert gateway.calls == []


async def test_review_approval_charges_when_stock_is_reserved(
    services: Services, store: FakeStore, gateway: FakeGateway
) -> None:
    payment_id = await new_payment(services)
    review = FraudAssessed(
        payment_id=payment_id, decision=FraudDecision.REVIEW, score=60, reasons=("country",)
    )
    await handlers.on_fraud_assessed(review, message_uow(store, "f"), services)
    await handlers.on_stock_reserved(reserved(payment_id), message_uow(store, "s"), services)
    assert store.payments[payment_id].status is PaymentStatus.REVIEW
    payment = await handlers.decide_review(payment_id, ReviewDecision.APPROVE, services)
    assert payment.status is PaymentStatus.CAPTURED
    with pytest.raises(NotInReview):
        await handlers.decide_review(payment_id, ReviewDecision.APPROVE, services)


async def test_review_raises_unknown_when_the_payment_does_not_exist(services: Services) -> None:
    with pytest.raises(UnknownPayment):
        await handlers.decide_review("nope", ReviewDecision.APPROVE, services)


async def test_charge_completes_once_when_the_gateway_comes_back_before_the_deadline(
    services: Services, store: FakeStore, gateway: FakeGateway, clock: FakeClock
) -> None:
    payment_id = await new_payment(services)
    gateway.down = True
    await handlers.on_fraud_assessed(approved(payment_id), message_uow(store, "f"), services)
    await handlers.on_stock_reserved(reserved(payment_id), message_uow(store, "s"), services)
    assert store.payments[payment_id].status is PaymentStatus.PENDING
    assert await handlers.sweep(services) == 0, "the retry is not due yet"
    clock.advance(1)
    assert await handlers.sweep(services) == 1
    gateway.down = False
    clock.advance(2)
    assert await handlers.sweep(services) == 1
    assert store.payments[payment_id].status is PaymentStatus.CAPTURED
    assert gateway.charged == 1
    assert await handlers.sweep(services) == 0


async def test_payment_fails_when_the_gateway_stays_down_past_the_deadline(
    services: Services, store: FakeStore, gateway: FakeGateway, clock: FakeClock
) -> None:
    payment_id = await new_payment(services)
    gateway.down = True
    await handlers.on_fraud_assessed(approved(payment_id), message_uow(store, "f"), services)
    await handlers.on_stock_reserved(reserved(payment_id), message_uow(store, "s"), services)
    for _ in range(20):
        clock.advance(5)
        await handlers.sweep(services)
    payment = store.payments[payment_id]
    assert payment.status is PaymentStatus.FAILED
    assert outcome_types(store).count(PaymentFailed.message_type) == 1
    assert gateway.charged == 0
    # The attempts never had an answer, so a void is owed, and kept owed while the gateway is down.
    assert payment.void_due_at is not None
    assert [s.name for s in payment.history].count("void.unavailable") == 1
    gateway.down = False
    clock.advance(60)
    assert await handlers.sweep(services) == 1
    assert gateway.voided == [payment_id]
    payment = store.payments[payment_id]
    assert payment.void_due_at is None
    assert payment.history[-1].name == "charge.void_confirmed"
    assert await handlers.sweep(services) == 0


async def test_failed_payment_gives_the_money_back_when_a_lost_attempt_had_charged(
    services: Services, store: FakeStore, gateway: FakeGateway, clock: FakeClock
) -> None:
    payment_id = await new_payment(services)
    gateway.answers_lost = True
    await handlers.on_fraud_assessed(approved(payment_id), message_uow(store, "f"), services)
    await handlers.on_stock_reserved(reserved(payment_id), message_uow(store, "s"), services)
    for _ in range(20):
        clock.advance(5)
        await handlers.sweep(services)
    payment = store.payments[payment_id]
    assert payment.status is PaymentStatus.FAILED
    assert gateway.charged == 1  # the gateway took the money; the payment never heard
    assert gateway.voided == [payment_id]
    assert "charge.voided" in [s.name for s in payment.history]
    assert payment.charge_id is None
    assert outcome_types(store).count(PaymentFailed.message_type) == 1


async def test_no_void_is_owed_when_a_payment_fails_before_any_attempt(
    services: Services, store: FakeStore, gateway: FakeGateway, clock: FakeClock
) -> None:
    payment_id = await new_payment(services)
    await handlers.on_fraud_assessed(approved(payment_id), message_uow(store, "f"), services)
    payment = store.payments[payment_id]
    payment.record_stock_reserved("res-1", now=clock())
    clock.advance(120)  # past the deadline before the sweeper ever claimed a charge
    assert payment.expire(now=clock())
    assert payment.void_due_at is None


async def test_inbox_mark_commits_with_the_state_when_a_message_is_handled(
    services: Services, store: FakeStore
) -> None:
    payment_id = await new_payment(services)
    await handlers.on_fraud_assessed(approved(payment_id), message_uow(store, "msg-1"), services)
    assert store.inbox == {"msg-1"}


async def test_event_for_an_unknown_payment_raises_when_it_arrives(
    services: Services, store: FakeStore
) -> None:
    with pytest.raises(UnknownPayment):
        await handlers.on_fraud_assessed(approved("ghost"), message_uow(store, "m"), services)
