"""Events produced by the payment service on the ``payment.events`` exchange."""

from __future__ import annotations

from typing import ClassVar

from shared.contracts.base import Event
from shared.contracts.values import Currency, Customer, LineItem, MinorUnits


class PaymentEvent(Event):
    producer: ClassVar[str] = "payment"

    payment_id: str
    order_id: str


class PaymentRequested(PaymentEvent):
    message_type: ClassVar[str] = "payment.requested.v1"

    customer: Customer
    items: tuple[LineItem, ...]
    amount: MinorUnits
    currency: Currency


class PaymentOutcome(PaymentEvent):
    """Fields every final outcome carries, so notification needs no call back to payment."""

    customer_id: str
    customer_email: str
    amount: MinorUnits
    currency: Currency
    reason: str | None = None


class PaymentCaptured(PaymentOutcome):
    message_type: ClassVar[str] = "payment.captured.v1"

    charge_id: str


class PaymentDeclined(PaymentOutcome):
    message_type: ClassVar[str] = "payment.declined.v1"


class PaymentRejected(PaymentOutcome):
    message_type: ClassVar[str] = "payment.rejected.v1"


class PaymentCancelled(PaymentOutcome):
    message_type: ClassVar[str] = "payment.cancelled.v1"


class PaymentFailed(PaymentOutcome):
    message_type: ClassVar[str] = "payment.failed.v1"


class PaymentReviewRequired(PaymentOutcome):
    """Operator-facing: a payment waits for a manual review decision."""

    message_type: ClassVar[str] = "payment.review_required.v1"

    score: int
    reasons: tuple[str, ...] = ()
