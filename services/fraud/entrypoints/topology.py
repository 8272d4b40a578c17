"""What fraud declares on the broker: its events exchange and one queue per handler."""

from __future__ import annotations

from shared.contracts.base import Contract
from shared.contracts.payment import PaymentRequested
from shared.messaging.topology import Topology, events_exchange, handler_queue

PAYMENT_EVENTS = events_exchange("payment")

TOPOLOGY = Topology(
    service="fraud",
    queues=(
        handler_queue("fraud", "on_payment_requested", [(PAYMENT_EVENTS, PaymentRequested.routing_key())]),
    ),
    consumes_from=(PAYMENT_EVENTS,),
)

# handler -> the contract types it accepts; the consumer registers each handler with exactly these.
ACCEPTS: dict[str, tuple[type[Contract], ...]] = {"on_payment_requested": (PaymentRequested,)}
