from __future__ import annotations

from datetime import UTC, datetime, timedelta

from inventory.domain.model import Line, Reservation, ReservationStatus, basket_lines, low_stock
from shared.contracts.inventory import StockLow
from shared.contracts.values import LineItem

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_lines_are_summed_per_sku_and_sorted_when_the_basket_repeats_skus() -> None:
    items = [LineItem(sku=s, quantity=q, unit_amount=1) for s, q in [("b", 1), ("a", 2), ("b", 3)]]
    assert basket_lines(items) == (Line("a", 2), Line("b", 4))


def test_stock_low_fires_only_for_the_reservation_that_crosses_the_threshold() -> None:
    lines = (Line("a", 3), Line("b", 1))
    assert low_stock(lines, {"a": 5, "b": 4}, threshold=5) == [StockLow(sku="a", available=5, threshold=5)]
    assert low_stock(lines, {"a": 9, "b": 3}, threshold=5) == []  # b was already low before
    assert low_stock(lines, {"a": 0, "b": 0}, threshold=0) == []  # 0 disables it


def test_a_reservation_moves_stock_once_when_its_outcome_repeats() -> None:
    reservation = Reservation.hold("p", (Line("a", 1),), now=NOW, ttl=timedelta(minutes=1))
    assert reservation.commit() is True
    assert reservation.commit() is False
    assert reservation.release("payment.declined") is False
    assert reservation.status is ReservationStatus.COMMITTED
    assert [e.message_type for e in reservation.events] == ["inventory.reserved.v1", "inventory.committed.v1"]


def test_a_hold_is_never_shortened_when_a_review_notice_comes_late() -> None:
    reservation = Reservation.hold("p", (Line("a", 1),), now=NOW, ttl=timedelta(hours=30))
    assert reservation.hold_until(NOW + timedelta(hours=24)) is False
    assert reservation.expires_at == NOW + timedelta(hours=30)
    assert reservation.is_expired(NOW + timedelta(hours=30))


def test_a_refused_basket_names_its_short_skus_when_asked_again() -> None:
    reservation = Reservation.refuse("p", (Line("a", 1), Line("b", 1)), ["b", "a"], now=NOW)
    reservation.events.clear()
    reservation.repeat_outcome()
    (event,) = reservation.events
    assert event.insufficient_skus == ("a", "b")  # type: ignore[attr-defined]
