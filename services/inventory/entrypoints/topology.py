"""What inventory declares on the broker: its events exchange and one queue per handler."""

from __future__ import annotations

from shared.contracts.payment import (
    PaymentCancelled,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentOutcome,
    PaymentRejected,
    PaymentRequested,
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
    ),
    consumes_from=(PAYMENT_EVENTS,),
)

# The contract types each handler accepts: the consumer registers handlers with these, and the contract
# tooling (tools/contract_tools) reads them to generate the AsyncAPI catalogue and check routing.
ACCEPTS = {"on_payment_requested": (PaymentRequested,), "on_payment_outcome": OUTCOMES}
