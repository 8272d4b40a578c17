"""What the notification service consumes (read by the consumer runtime and the contract tools).

``on_payment_outcome``: every final payment outcome (customer email) and ``payment.review_required``
(operator email); ``on_stock_low``: ``inventory.stock_low`` (operator email).
"""

from __future__ import annotations

from notification.domain.decisions import CUSTOMER_OUTCOMES
from shared.contracts.base import Contract
from shared.contracts.inventory import StockLow
from shared.contracts.payment import PaymentReviewRequired
from shared.messaging.topology import Binding, HandlerQueue, Topology, events_exchange

SERVICE = "notification"

ACCEPTS: dict[str, tuple[type[Contract], ...]] = {
    "on_payment_outcome": (*CUSTOMER_OUTCOMES, PaymentReviewRequired),
    "on_stock_low": (StockLow,),
}


def _queue(handler: str) -> HandlerQueue:
    events = ACCEPTS[handler]
    bindings = tuple(Binding(events_exchange(event.producer), event.routing_key()) for event in events)
    return HandlerQueue(service=SERVICE, handler=handler, bindings=bindings)


ON_PAYMENT_OUTCOME = _queue("on_payment_outcome")
ON_STOCK_LOW = _queue("on_stock_low")

TOPOLOGY = Topology(
    service=SERVICE,
    # Notification publishes no events; its only outgoing messages are Celery tasks (see celery_config).
    publishes=False,
    queues=(ON_PAYMENT_OUTCOME, ON_STOCK_LOW),
    consumes_from=(events_exchange("payment"), events_exchange("inventory")),
)
