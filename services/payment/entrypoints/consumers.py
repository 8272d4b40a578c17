"""Payment's queues and the message handlers on them: fraud's assessment and inventory's answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from payment.service_layer import handlers
from payment.service_layer.handlers import Services, UnknownPayment
from payment.service_layer.ports import UnitOfWorkFactory
from shared.contracts.fraud import FraudAssessed
from shared.contracts.inventory import StockRejected, StockReserved
from shared.messaging.envelope import Envelope
from shared.messaging.errors import PermanentError
from shared.messaging.topology import Topology, events_exchange, handler_queue

SERVICE = "payment"
ON_FRAUD_ASSESSED = "on_fraud_assessed"
ON_STOCK_ANSWER = "on_stock_answer"

TOPOLOGY = Topology(
    service=SERVICE,
    queues=(
        handler_queue(SERVICE, ON_FRAUD_ASSESSED, [(events_exchange("fraud"), "fraud.assessed")]),
        handler_queue(
            SERVICE,
            ON_STOCK_ANSWER,
            [
                (events_exchange("inventory"), "inventory.reserved"),
                (events_exchange("inventory"), "inventory.rejected"),
            ],
        ),
    ),
    consumes_from=(events_exchange("fraud"), events_exchange("inventory")),
)

# Builds the unit of work for one message of one handler: it commits the inbox mark with the state.
MessageUnitOfWork = Callable[[str, Envelope], UnitOfWorkFactory]


class UnknownPaymentMessage(PermanentError):
    """An outcome for a payment this service never stored: retrying cannot help."""


def fraud_handler(
    services: Services, uow_for: MessageUnitOfWork
) -> Callable[[FraudAssessed, Envelope], Awaitable[None]]:
    async def handle(message: FraudAssessed, envelope: Envelope) -> None:
        try:
            await handlers.on_fraud_assessed(message, uow_for(ON_FRAUD_ASSESSED, envelope), services)
        except UnknownPayment as exc:
            raise UnknownPaymentMessage(str(exc)) from exc

    return handle


def stock_handler(
    services: Services, uow_for: MessageUnitOfWork
) -> Callable[[StockReserved | StockRejected, Envelope], Awaitable[None]]:
    async def handle(message: StockReserved | StockRejected, envelope: Envelope) -> None:
        uow = uow_for(ON_STOCK_ANSWER, envelope)
        try:
            if isinstance(message, StockReserved):
                await handlers.on_stock_reserved(message, uow, services)
            else:
                await handlers.on_stock_rejected(message, uow, services)
        except UnknownPayment as exc:
            raise UnknownPaymentMessage(str(exc)) from exc

    return handle


ACCEPTS = {ON_FRAUD_ASSESSED: [FraudAssessed], ON_STOCK_ANSWER: [StockReserved, StockRejected]}
