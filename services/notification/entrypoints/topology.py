"""What the notification service consumes: payment outcomes for customers, operator-facing events."""

from __future__ import annotations

from notification.domain.decisions import CUSTOMER_OUTCOMES, OPERATOR_EVENTS
from shared.contracts.base import Contract
from shared.messaging.topology import Binding, HandlerQueue, Topology, events_exchange

SERVICE = "notification"


def _queue(handler: str, events: tuple[type[Contract], ...]) -> HandlerQueue:
    bindings = tuple(Binding(events_exchange(event.producer), event.routing_key()) for event in events)
    return HandlerQueue(service=SERVICE, handler=handler, bindings=bindings)


ON_PAYMENT_OUTCOME = _queue("on_payment_outcome", CUSTOMER_OUTCOMES)
ON_OPERATOR_EVENT = _queue("on_operator_event", OPERATOR_EVENTS)

TOPOLOGY = Topology(
    service=SERVICE,
    # Notification publishes no events; its only outgoing messages are Celery tasks (see celery_config).
    publishes=False,
    queues=(ON_PAYMENT_OUTCOME, ON_OPERATOR_EVENT),
    consumes_from=tuple(
        sorted({b.exchange for q in (ON_PAYMENT_OUTCOME, ON_OPERATOR_EVENT) for b in q.bindings})
    ),
)
