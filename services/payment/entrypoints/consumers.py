"""The message handlers on payment's queues: fraud's assessment and inventory's answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from payment.entrypoints.topology import ON_FRAUD_ASSESSED, ON_STOCK
from payment.service_layer import handlers
from payment.service_layer.handlers import Services, UnknownPayment
from payment.service_layer.ports import UnitOfWorkFactory
from shared.contracts.fraud import FraudAssessed
from shared.contracts.inventory import StockRejected, StockReserved
from shared.messaging.envelope import Envelope
from shared.messaging.errors import PermanentError
from shared.persistence.unit_of_work import AlreadyHandled

# Builds the unit of work for one message of one handler: it commits the inbox mark with the state.
MessageUnitOfWork = Callable[[str, Envelope], UnitOfWorkFactory]


class UnknownPaymentMessage(PermanentError):
    """An outcome for a payment this service never stored: retrying cannot help."""


def fraud_handler(
    services: Services, uow_for: MessageUnitOfWork
) -> Callable[[FraudAssessed, Envelope], Awaitable[None]]:
    async def handle(message: FraudAssessed, envelope: Envelope) -> None:
        try:
            await handlers.on_fraud_assessed(message, uow_for(ON_FRAUD_ASSESSED.name, envelope), services)
        except AlreadyHandled:
            return  # a redelivery: its effects committed the first time
        except UnknownPayment as exc:
            raise UnknownPaymentMessage(str(exc)) from exc

    return handle


def stock_handler(
    services: Services, uow_for: MessageUnitOfWork
) -> Callable[[StockReserved | StockRejected, Envelope], Awaitable[None]]:
    async def handle(message: StockReserved | StockRejected, envelope: Envelope) -> None:
        uow = uow_for(ON_STOCK.name, envelope)
        try:
            if isinstance(message, StockReserved):
                await handlers.on_stock_reserved(message, uow, services)
            else:
                await handlers.on_stock_rejected(message, uow, services)
        except AlreadyHandled:
            return
        except UnknownPayment as exc:
            raise UnknownPaymentMessage(str(exc)) from exc

    return handle
