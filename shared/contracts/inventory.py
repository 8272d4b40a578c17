"""Events produced by the inventory service on the ``inventory.events`` exchange."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import Event
from shared.contracts.values import Sku


class ReservedLine(BaseModel):
    """One SKU of a reservation: the basket's quantities summed per SKU."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sku: Sku
    quantity: Annotated[int, Field(gt=0)]


class InventoryEvent(Event):
    producer: ClassVar[str] = "inventory"


class StockReserved(InventoryEvent):
    message_type: ClassVar[str] = "inventory.reserved.v1"

    payment_id: str
    reservation_id: str
    items: tuple[ReservedLine, ...]


class StockRejected(InventoryEvent):
    message_type: ClassVar[str] = "inventory.rejected.v1"

    payment_id: str
    reason: str
    insufficient_skus: tuple[str, ...] = ()


class StockCommitted(InventoryEvent):
    message_type: ClassVar[str] = "inventory.committed.v1"

    payment_id: str
    reservation_id: str


class StockReleased(InventoryEvent):
    message_type: ClassVar[str] = "inventory.released.v1"

    payment_id: str
    reservation_id: str
    reason: str  # the payment outcome that released it ("payment.declined", ...) or "expired"


class StockLow(InventoryEvent):
    """Operator-facing: a SKU's available count fell to or below its threshold."""

    message_type: ClassVar[str] = "inventory.stock_low.v1"

    sku: str
    available: int
    threshold: int
