"""Inventory settings, read from ``INVENTORY_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class InventorySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INVENTORY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/inventory.db"
    http_port: int = 8001
    # A reservation with no payment outcome after this long is released. Keep it longer than payment's
    # own deadline, so a payment that is still trying never loses its units under it.
    reservation_ttl_seconds: float = Field(default=900.0, gt=0)
    # A payment waiting for an operator's review keeps its units this long.
    review_hold_seconds: float = Field(default=86_400.0, gt=0)
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    sweep_batch_size: int = Field(default=100, gt=0)
    # inventory.stock_low is emitted when a reservation takes a SKU's available count to this value or
    # below; 0 disables it.
    stock_low_threshold: int = Field(default=5, ge=0)
