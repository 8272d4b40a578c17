"""What inventory declares on the broker: its events exchange and one queue per handler."""

from __future__ import annotations

from shared.contracts.base import Contract
from shared.contracts.payment import (
    PaymentCancelled,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentOutcome,
    PaymentRejected,
    PaymentRequested,
    PaymentReviewRequired,
)
from shared.messaging.topology import Topology, events_exchange, handler_queue

PAYMENT_EVENTS = events_exchange("payment")

# Every final payment outcome: captured commits the reservation, the others release it.
OUTCOMES: tuple[type[PaymentOutcome], ...] = (
    PaymentCaptured,
    PaymentDeclined,
    PaymentRejected,
    PaymentCancelled,
    PaymentFailed,
)

TOPOLOGY = Topology(
    service="inventory",
    queues=(
        handler_queue("inventory", "on_payment_requested", [(PAYMENT_EVENTS, "payment.requested")]),
        handler_queue(
            "inventory", "on_payment_outcome", [(PAYMENT_EVENTS, event.routing_key()) for event in OUTCOMES]
        ),
        # A payment in review keeps its units for the review window instead of the usual TTL.
        handler_queue(
            "inventory", "on_payment_review", [(PAYMENT_EVENTS, PaymentReviewRequired.routing_key())]
        ),
    ),
    consumes_from=(PAYMENT_EVENTS,),
)

# handler -> the contract types it accepts; the consumer registers each handler with exactly these.
ACCEPTS: dict[str, tuple[type[Contract], ...]] = {
    "on_payment_requested": (PaymentRequested,),
    "on_payment_outcome": OUTCOMES,
    "on_payment_review": (PaymentReviewRequired,),
}
