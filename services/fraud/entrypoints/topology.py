"""What fraud declares on the broker: its events exchange and one queue per handler."""

from __future__ import annotations

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

# The contract types each handler accepts: the consumer registers handlers with these, and the contract
# tooling (tools/contract_tools) reads them to generate the AsyncAPI catalogue and check routing.
ACCEPTS = {"on_payment_requested": (PaymentRequested,)}
