from __future__ import annotations

from typing import Any

import pytest

from inventory.service_layer import handlers
from shared.contracts.inventory import StockLow, StockRejected, StockReleased, StockReserved
from shared.contracts.payment import (
    PaymentCancelled,
    PaymentCaptured,
    PaymentDeclined,
    PaymentRequested,
    PaymentReviewRequired,
)


def requested(payment_id: str = "pay-1", **quantities: int) -> PaymentRequested:
    items = [{"sku": sku, "quantity": q, "unit_amount": 100} for sku, q in (quantities or {"A": 1}).items()]
    return PaymentRequested(
        payment_id=payment_id,
        order_id="order-1",
        customer={"id": "c1", "email": "c@example.com", "country": "NL"},
        items=items,
        amount=100,
        currency="EUR",
    )


def outcome(cls: Any, payment_id: str = "pay-1") -> Any:
    extra = {"charge_id": "ch_1"} if cls is PaymentCaptured else {}
    return cls(
        payment_id=payment_id,
        order_id="order-1",
        customer_id="c1",
        customer_email="c@example.com",
        amount=100,
        currency="EUR",
        **extra,
    )


async def levels(uow: Any, sku: str) -> tuple[int, int, int]:
    level = await uow.stock.get(sku)
    return level.available, level.reserved, level.sold


async def test_every_line_is_held_when_the_basket_is_in_stock(uow, policy) -> None:
    await uow.stock.set_available("A", 5)
    await uow.stock.set_available("B", 5)
    await handlers.reserve_basket(requested(A=2, B=1), uow, policy)
    assert await levels(uow, "A") == (3, 2, 0)
    assert await levels(uow, "B") == (4, 1, 0)
    (event,) = uow.published
    assert isinstance(event, StockReserved)
    assert [(line.sku, line.quantity) for line in event.items] == [("A", 2), ("B", 1)]


async def test_nothing_is_held_and_short_skus_are_named_when_one_line_is_short(uow, policy) -> None:
    await uow.stock.set_available("A", 5)
    await uow.stock.set_available("B", 1)
    await handlers.reserve_basket(requested(A=2, B=3, C=1), uow, policy)
    assert await levels(uow, "A") == (5, 0, 0)
    (event,) = uow.published
    assert isinstance(event, StockRejected)
    assert event.insufficient_skus == ("B", "C")


async def test_repeated_lines_of_one_sku_are_summed_when_the_basket_lists_it_twice(uow, policy) -> None:
    await uow.stock.set_available("A", 3)
    event = requested()
    event = event.model_copy(update={"items": (*event.items, *event.items)})
    await handlers.reserve_basket(event, uow, policy)
    assert await levels(uow, "A") == (1, 2, 0)


async def test_a_second_request_holds_nothing_more_and_repeats_the_outcome_when_redelivered(
    uow, policy
) -> None:
    await uow.stock.set_available("A", 5)
    await handlers.reserve_basket(requested(A=2), uow, policy)
    await handlers.reserve_basket(requested(A=2), uow, policy)
    assert await levels(uow, "A") == (3, 2, 0)
    assert uow.types() == ["inventory.reserved.v1", "inventory.reserved.v1"]
    assert uow.published[0].reservation_id == uow.published[1].reservation_id


async def test_held_units_are_sold_when_the_payment_is_captured(uow, policy) -> None:
    await uow.stock.set_available("A", 5)
    await handlers.reserve_basket(requested(A=2), uow, policy)
    await handlers.commit_reservation(outcome(PaymentCaptured), uow, policy)
    await handlers.commit_reservation(outcome(PaymentCaptured), uow, policy)
    assert await levels(uow, "A") == (3, 0, 2)
    assert uow.types() == ["inventory.reserved.v1", "inventory.committed.v1"]


async def test_held_units_are_released_when_the_payment_ends_any_other_way(uow, policy) -> None:
    for number, cls in enumerate([PaymentDeclined, PaymentCancelled]):
        await uow.stock.set_available("A", 5)
        payment_id = f"pay-{number}"
        await handlers.reserve_basket(requested(payment_id, A=2), uow, policy)
        await handlers.release_reservation(outcome(cls, payment_id), uow, policy)
        await handlers.release_reservation(outcome(cls, payment_id), uow, policy)
        assert await levels(uow, "A") == (5, 0, 0)
    released = [event for event in uow.published if isinstance(event, StockReleased)]
    assert [event.reason for event in released] == ["payment.declined", "payment.cancelled"]


async def test_a_late_request_holds_nothing_when_the_outcome_arrived_first(uow, policy) -> None:
    await uow.stock.set_available("A", 5)
    await handlers.release_reservation(outcome(PaymentCancelled), uow, policy)
    await handlers.reserve_basket(requested(A=2), uow, policy)
    assert await levels(uow, "A") == (5, 0, 0)
    assert uow.published == []


async def test_reservations_are_released_when_their_time_is_up(uow, policy, clock) -> None:
    await uow.stock.set_available("A", 5)
    await handlers.reserve_basket(requested("old", A=2), uow, policy)
    clock.advance(minutes=10)
    await handlers.reserve_basket(requested("young", A=1), uow, policy)
    clock.advance(minutes=6)
    released = await handlers.release_expired(lambda: uow, policy, batch_size=10)
    assert released == 1
    assert await levels(uow, "A") == (4, 1, 0)
    assert uow.published[-1] == StockReleased(
        payment_id="old", reservation_id=uow.published[0].reservation_id, reason="expired"
    )


async def test_expired_units_are_sold_again_when_the_capture_arrives_after_expiry(uow, policy, clock) -> None:
    await uow.stock.set_available("A", 5)
    await handlers.reserve_basket(requested(A=2), uow, policy)
    clock.advance(minutes=16)
    await handlers.release_expired(lambda: uow, policy, batch_size=10)
    await handlers.commit_reservation(outcome(PaymentCaptured), uow, policy)
    assert await levels(uow, "A") == (3, 0, 2)
    assert uow.types()[-1] == "inventory.committed.v1"


async def test_stock_low_is_emitted_once_when_a_reservation_crosses_the_threshold(uow, policy) -> None:
    await uow.stock.set_available("A", 4)
    await handlers.reserve_basket(requested("p1", A=1), uow, policy)
    await handlers.reserve_basket(requested("p2", A=1), uow, policy)
    await handlers.reserve_basket(requested("p3", A=1), uow, policy)
    low = [event for event in uow.published if isinstance(event, StockLow)]
    assert low == [StockLow(sku="A", available=2, threshold=2)]


async def test_unknown_sku_is_reported_when_asked_for_its_level(uow) -> None:
    with pytest.raises(handlers.UnknownSku):
        await handlers.stock_level("nope", uow)


def review(payment_id: str = "pay-1") -> PaymentReviewRequired:
    return PaymentReviewRequired(
        payment_id=payment_id,
        order_id="order-1",
        customer_id="c1",
        customer_email="c@example.com",
        amount=100,
        currency="EUR",
        score=50,
    )


async def test_units_stay_held_past_the_usual_ttl_when_the_payment_waits_for_review(
    uow, policy, clock
) -> None:
    await uow.stock.set_available("A", 5)
    await handlers.reserve_basket(requested(A=2), uow, policy)
    await handlers.hold_for_review(review(), uow, policy)
    clock.advance(hours=2)
    assert await handlers.release_expired(lambda: uow, policy, batch_size=10) == 0
    clock.advance(hours=23)
    assert await handlers.release_expired(lambda: uow, policy, batch_size=10) == 1
    assert await levels(uow, "A") == (5, 0, 0)


async def test_review_notice_is_retried_when_it_overtakes_the_request(uow, policy) -> None:
    with pytest.raises(handlers.RequestNotSeenYet):
        await handlers.hold_for_review(review(), uow, policy)
