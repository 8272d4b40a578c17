"""Event consumers: each incoming message runs the deciding handler in its own unit of work."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aio_pika.abc import AbstractConnection

from notification.adapters.rendering import Renderer
from notification.domain.decisions import Audience
from notification.entrypoints.topology import ACCEPTS, TOPOLOGY
from notification.service_layer.handlers import notify
from notification.service_layer.unit_of_work import NotificationUnitOfWork
from shared.contracts.base import Contract
from shared.messaging.consumer import Consumer
from shared.messaging.envelope import Envelope
from shared.persistence.unit_of_work import AlreadyHandled

log = logging.getLogger(__name__)

# Builds the unit of work for one message, bound to (envelope, handler) for the inbox mark.
UnitOfWorkFactory = Callable[[Envelope, str], NotificationUnitOfWork]


class EventHandlers:
    """The handlers the consumer runtime calls: ``async def handle(message, envelope) -> None``."""

    def __init__(self, uow_for: UnitOfWorkFactory, audience: Audience, renderer: Renderer) -> None:
        self._uow_for = uow_for
        self._audience = audience
        self._renderer = renderer

    async def _handle(self, handler: str, message: Contract, envelope: Envelope) -> None:
        uow = self._uow_for(envelope, f"{TOPOLOGY.service}.{handler}")
        try:
            created = await notify(
                message, envelope, uow=uow, audience=self._audience, renderer=self._renderer
            )
        except AlreadyHandled:
            # The inbox saw this message id commit before: a redelivery. Ack it, change nothing.
            log.info("%s %s already handled by %s", envelope.type, envelope.message_id, handler)
            return
        log.info("%s %s: %d notification(s) created", envelope.type, envelope.message_id, len(created))

    async def on_payment_outcome(self, message: Contract, envelope: Envelope) -> None:
        await self._handle("on_payment_outcome", message, envelope)

    async def on_stock_low(self, message: Contract, envelope: Envelope) -> None:
        await self._handle("on_stock_low", message, envelope)


def register(target: Consumer | object, handlers: EventHandlers) -> None:
    """Register every handler of :data:`TOPOLOGY` on a consumer runtime (or a test harness)."""
    for queue in TOPOLOGY.queues:
        target.register(queue, getattr(handlers, queue.handler), accepts=ACCEPTS[queue.handler])  # type: ignore[attr-defined]


def build_consumer(
    connection: AbstractConnection, handlers: EventHandlers, *, grace_seconds: float
) -> Consumer:
    consumer = Consumer(connection, TOPOLOGY, grace_seconds=grace_seconds)
    register(consumer, handlers)
    return consumer
