"""Events and envelopes for notification tests."""

from __future__ import annotations

import uuid
from typing import Any

from shared.contracts.base import Contract
from shared.contracts.payment import (
    PaymentCancelled,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentRejected,
)
from shared.messaging.envelope import Envelope

OUTCOMES: dict[str, type[Contract]] = {
    "captured": PaymentCaptured,
    "declined": PaymentDeclined,
    "rejected": PaymentRejected,
    "cancelled": PaymentCancelled,
    "failed": PaymentFailed,
}


def outcome(
    kind: str, *, email: str = "ada@example.com", amount: int = 12345, currency: str = "EUR", **extra: Any
) -> Contract:
    fields: dict[str, Any] = {
        "payment_id": f"pay-{uuid.uuid4().hex[:8]}",
        "order_id": f"ord-{uuid.uuid4().hex[:6]}",
        "customer_id": "cus-1",
        "customer_email": email,
        "amount": amount,
        "currency": currency,
    }
    if kind == "captured":
        fields["charge_id"] = "ch_123"
    if kind in {"declined", "failed", "cancelled"}:
        fields["reason"] = f"{kind} for a reason"
    fields.update(extra)
    return OUTCOMES[kind](**fields)


def envelope_for(event: Contract, **overrides: Any) -> Envelope:
    return Envelope(
        type=event.message_type,
        correlation_id=overrides.pop("correlation_id", f"corr-{uuid.uuid4().hex[:8]}"),
        producer=event.producer,
        payload=event.model_dump(mode="json"),
        **overrides,
    )
