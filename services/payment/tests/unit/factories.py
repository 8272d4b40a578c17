"""Builders for payment unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from payment.domain.model import Checkout, Payment
from shared.contracts.values import Customer, LineItem

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def checkout(*, token: str = "tok_visa", quantity: int = 2, order_id: str = "order-1") -> Checkout:
    return Checkout(
        order_id=order_id,
        customer=Customer(id="cust-1", email="ada@example.com", country="GB"),
        items=(LineItem(sku="sku-1", quantity=quantity, unit_amount=1250),),
        currency="EUR",
        token=token,
    )


def payment(*, deadline: timedelta = timedelta(minutes=5), **kwargs: object) -> Payment:
    return Payment.request(
        "pay-1",
        checkout(**kwargs),
        idempotency_key="key-1",
        now=T0,
        time_to_deadline=deadline,  # type: ignore[arg-type]
    )
