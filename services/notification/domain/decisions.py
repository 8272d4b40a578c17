"""Which notifications an event calls for: channel, recipient, template and the outcome it is about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from notification.domain.model import Channel
from shared.contracts.base import Contract
from shared.contracts.inventory import StockLow
from shared.contracts.payment import (
    PaymentCancelled,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentOutcome,
    PaymentRejected,
    PaymentReviewRequired,
)
from shared.messaging.envelope import Envelope

CUSTOMER_OUTCOMES: tuple[type[PaymentOutcome], ...] = (
    PaymentCaptured,
    PaymentDeclined,
    PaymentRejected,
    PaymentCancelled,
    PaymentFailed,
)
OPERATOR_EVENTS: tuple[type[Contract], ...] = (PaymentReviewRequired, StockLow)
HANDLED_EVENTS: tuple[type[Contract], ...] = (*CUSTOMER_OUTCOMES, *OPERATOR_EVENTS)


@dataclass(frozen=True)
class Audience:
    """Who hears about what, from settings: the operator mailbox and an optional merchant webhook."""

    operator_email: str
    webhook_url: str | None = None


@dataclass(frozen=True)
class Intent:
    """One notification to create (rendered and stored by the service layer)."""

    dedupe_key: str
    channel: Channel
    recipient: str
    template: str
    context: dict[str, Any]


def dedupe_key(event: Contract, envelope: Envelope) -> str:
    """What the notification is about. A payment has one outcome of each kind, so its key is the payment;
    stock can run low many times, so each stock_low message is its own occasion."""
    fact = event.routing_key()
    if isinstance(event, PaymentOutcome):
        return f"{fact}:{event.payment_id}"
    return f"{fact}:{envelope.message_id}"


def decide(event: Contract, envelope: Envelope, audience: Audience) -> list[Intent]:
    """The notifications ``event`` calls for; an empty list for events nobody needs to hear about."""
    key = dedupe_key(event, envelope)
    template = event.routing_key().replace(".", "_")  # payment.captured -> payment_captured
    context: dict[str, Any] = {
        "event": event.model_dump(mode="json"),
        "message_type": event.message_type,
        "occurred_at": envelope.occurred_at.isoformat(),
    }
    intents: list[Intent] = []
    if isinstance(event, CUSTOMER_OUTCOMES):
        intents.append(Intent(key, Channel.EMAIL, event.customer_email, template, context))
    elif isinstance(event, OPERATOR_EVENTS):
        intents.append(Intent(key, Channel.EMAIL, audience.operator_email, template, context))
    else:
        return []
    if audience.webhook_url:
        intents.append(Intent(key, Channel.WEBHOOK, audience.webhook_url, "webhook", context))
    return intents
