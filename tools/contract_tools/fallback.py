"""Stand-in declarations for services that have not landed their own yet (the checkout saga of issue 5/6).

Used only where a service lacks ``entrypoints/topology.py`` or ``entrypoints/contract_examples.py``; each use
is reported by ``make contract`` and fails it under ``--strict``. Delete an entry once its service declares.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.contracts.base import Contract
from shared.contracts.catalogue import ServiceDeclaration
from shared.contracts.fraud import FraudAssessed, FraudDecision
from shared.contracts.inventory import StockCommitted, StockLow, StockRejected, StockReleased, StockReserved
from shared.contracts.payment import (
    PaymentCancelled,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentRejected,
    PaymentRequested,
    PaymentReviewRequired,
)
from shared.messaging.topology import Topology, events_exchange, handler_queue

PAYMENT, FRAUD, INVENTORY = events_exchange("payment"), events_exchange("fraud"), events_exchange("inventory")
OUTCOMES = (PaymentCaptured, PaymentDeclined, PaymentRejected, PaymentCancelled, PaymentFailed)


def _fraud_examples() -> Iterable[Contract]:
    for decision in FraudDecision:
        yield FraudAssessed(payment_id="pay-1", decision=decision, score=10, reasons=("rule",))


def _inventory_examples() -> Iterable[Contract]:
    yield StockReserved.model_validate(
        {
            "payment_id": "pay-1",
            "reservation_id": "res-1",
            "items": [{"sku": "sku-1", "quantity": 2, "unit_amount": 1250}],
        }
    )
    yield StockRejected(payment_id="pay-1", reason="insufficient stock", insufficient_skus=("sku-1",))
    yield StockCommitted(payment_id="pay-1", reservation_id="res-1")
    yield StockReleased(payment_id="pay-1", reservation_id="res-1", reason="payment.declined")
    yield StockLow(sku="sku-1", available=2, threshold=5)


SERVICES: dict[str, ServiceDeclaration] = {
    "fraud": ServiceDeclaration(
        name="fraud",
        topology=Topology(
            service="fraud",
            queues=(handler_queue("fraud", "on_payment_requested", [(PAYMENT, "payment.requested")]),),
            consumes_from=(PAYMENT,),
        ),
        accepts={"on_payment_requested": (PaymentRequested,)},
        examples=_fraud_examples,
        source="fallback",
    ),
    "inventory": ServiceDeclaration(
        name="inventory",
        topology=Topology(
            service="inventory",
            queues=(
                handler_queue("inventory", "on_payment_requested", [(PAYMENT, "payment.requested")]),
                handler_queue(
                    "inventory", "on_payment_outcome", [(PAYMENT, model.routing_key()) for model in OUTCOMES]
                ),
            ),
            consumes_from=(PAYMENT,),
        ),
        accepts={"on_payment_requested": (PaymentRequested,), "on_payment_outcome": OUTCOMES},
        examples=_inventory_examples,
        source="fallback",
    ),
    "notification": ServiceDeclaration(
        name="notification",
        topology=Topology(
            service="notification",
            publishes=False,
            queues=(
                handler_queue(
                    "notification",
                    "on_payment_outcome",
                    [(PAYMENT, model.routing_key()) for model in (*OUTCOMES, PaymentReviewRequired)],
                ),
                handler_queue("notification", "on_stock_low", [(INVENTORY, "inventory.stock_low")]),
            ),
            consumes_from=(PAYMENT, INVENTORY),
        ),
        accepts={"on_payment_outcome": (*OUTCOMES, PaymentReviewRequired), "on_stock_low": (StockLow,)},
        examples=None,
        source="fallback",
    ),
}
