"""Events produced by the inventory service on the ``inventory.events`` exchange."""

from __future__ import annotations

from typing import ClassVar

from shared.contracts.base import Event
from shared.contracts.values import LineItem


class InventoryEvent(Event):
    producer: ClassVar[str] = "inventory"


class StockReserved(InventoryEvent):
    message_type: ClassVar[str] = "inventory.reserved.v1"

    payment_id: str
    reservation_id: str
    items: tuple[LineItem, ...]


class StockRejected(InventoryEvent):
    message_type: ClassVar[str] = "inventory.rejected.v1"

    payment_id: str
    reason: str
    insufficient_skus: tuple[str, ...] = ()


class StockCommitted(InventoryEvent):
    message_type: ClassVar[str] = "inventory.committed.v1"
    intentionally_unconsumed: ClassVar[str | None] = "closes the saga; kept for audit and the operator"

    payment_id: str
    reservation_id: str


class StockReleased(InventoryEvent):
    message_type: ClassVar[str] = "inventory.released.v1"
    intentionally_unconsumed: ClassVar[str | None] = "compensation done; kept for audit and the operator"

    payment_id: str
    reservation_id: str
    reason: str


class StockLow(InventoryEvent):
    """Operator-facing: a SKU's available count fell to or below its threshold."""

    message_type: ClassVar[str] = "inventory.stock_low.v1"

    sku: str
    available: int
    threshold: int
