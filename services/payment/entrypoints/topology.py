"""What payment declares on the broker: its events exchange and one queue per handler (read by the contract tools)."""

from __future__ import annotations

from shared.contracts.base import Contract
from shared.contracts.fraud import FraudAssessed
from shared.contracts.inventory import StockRejected, StockReserved
from shared.messaging.topology import Topology, events_exchange, handler_queue

SERVICE = "payment"
FRAUD_EVENTS = events_exchange("fraud")
INVENTORY_EVENTS = events_exchange("inventory")

ON_FRAUD_ASSESSED = handler_queue(SERVICE, "on_fraud_assessed", [(FRAUD_EVENTS, FraudAssessed.routing_key())])
ON_STOCK = handler_queue(
    SERVICE,
    "on_stock_answer",
    [(INVENTORY_EVENTS, StockReserved.routing_key()), (INVENTORY_EVENTS, StockRejected.routing_key())],
)

TOPOLOGY = Topology(
    service=SERVICE, queues=(ON_FRAUD_ASSESSED, ON_STOCK), consumes_from=(FRAUD_EVENTS, INVENTORY_EVENTS)
)

ACCEPTS: dict[str, tuple[type[Contract], ...]] = {
    ON_FRAUD_ASSESSED.handler: (FraudAssessed,),
    ON_STOCK.handler: (StockReserved, StockRejected),
}
