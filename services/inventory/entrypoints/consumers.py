"""Inventory's message handlers, as the consumer runtime calls them: ``handle(message, envelope)``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Protocol

from inventory.entrypoints.topology import ACCEPTS, TOPOLOGY
from inventory.service_layer import handlers
from inventory.service_layer.ports import InventoryUnitOfWork
from shared.contracts.base import Contract
from shared.contracts.payment import (
    PaymentCaptured,
    PaymentOutcome,
    PaymentRequested,
    PaymentReviewRequired,
)
from shared.messaging.dispatch import Handler
from shared.messaging.envelope import Envelope
from shared.messaging.topology import HandlerQueue
from shared.persistence.unit_of_work import AlreadyHandled

# A unit of work bound to the message being handled (its inbox mark and causation), by queue name.
UowForMessage = Callable[[Envelope, str], InventoryUnitOfWork]


class Registry(Protocol):
    """The consumer runtime, the memory broker or the messaging harness."""

    def register(
        self, queue: HandlerQueue, handler: Handler, accepts: tuple[type[Contract], ...]
    ) -> None: ...


def register_handlers(registry: Registry, uow_for: UowForMessage, policy: handlers.ReservationPolicy) -> None:
    requested = TOPOLOGY.queue("on_payment_requested")
    outcome = TOPOLOGY.queue("on_payment_outcome")
    review = TOPOLOGY.queue("on_payment_review")

    async def on_payment_requested(message: PaymentRequested, envelope: Envelope) -> None:
        with contextlib.suppress(AlreadyHandled):  # a redelivery the inbox already absorbed: ack it
            await handlers.reserve_basket(message, uow_for(envelope, requested.name), policy)

    async def on_payment_outcome(message: PaymentOutcome, envelope: Envelope) -> None:
        uow = uow_for(envelope, outcome.name)
        with contextlib.suppress(AlreadyHandled):
            if isinstance(message, PaymentCaptured):
                await handlers.commit_reservation(message, uow, policy)
            else:
                await handlers.release_reservation(message, uow, policy)

    async def on_payment_review(message: PaymentReviewRequired, envelope: Envelope) -> None:
        with contextlib.suppress(AlreadyHandled):
            await handlers.hold_for_review(message, uow_for(envelope, review.name), policy)

    registry.register(requested, on_payment_requested, ACCEPTS[requested.handler])
    registry.register(outcome, on_payment_outcome, ACCEPTS[outcome.handler])
    registry.register(review, on_payment_review, ACCEPTS[review.handler])
