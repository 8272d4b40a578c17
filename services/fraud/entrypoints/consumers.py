"""Fraud's message handler, as the consumer runtime calls it: ``handle(message, envelope)``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Protocol

from fraud.domain.rules import FraudRules
from fraud.entrypoints.topology import ACCEPTS, TOPOLOGY
from fraud.service_layer.handlers import assess_payment
from fraud.service_layer.ports import FraudUnitOfWork, RiskScorer
from shared.contracts.base import Contract
from shared.contracts.payment import PaymentRequested
from shared.messaging.dispatch import Handler
from shared.messaging.envelope import Envelope
from shared.messaging.topology import HandlerQueue
from shared.persistence.unit_of_work import AlreadyHandled

# A unit of work bound to the message being handled (its inbox mark and causation), by queue name.
UowForMessage = Callable[[Envelope, str], FraudUnitOfWork]


class Registry(Protocol):
    """The consumer runtime, the memory broker or the messaging harness."""

    def register(
        self, queue: HandlerQueue, handler: Handler, accepts: tuple[type[Contract], ...]
    ) -> None: ...


def register_handlers(
    registry: Registry, uow_for: UowForMessage, rules: FraudRules, risk: RiskScorer | None = None
) -> None:
    requested = TOPOLOGY.queue("on_payment_requested")

    async def on_payment_requested(message: PaymentRequested, envelope: Envelope) -> None:
        # The envelope's time is when payment recorded the request: stable across redeliveries.
        uow = uow_for(envelope, requested.name)
        with contextlib.suppress(AlreadyHandled):  # a redelivery the inbox already absorbed: ack it
            await assess_payment(message, envelope.occurred_at, uow, rules, risk)

    registry.register(requested, on_payment_requested, ACCEPTS[requested.handler])
