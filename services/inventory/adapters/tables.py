"""Inventory's tables (SQLAlchemy Core): stock counts and one reservation row per payment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

metadata = MetaData()


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The CHECK constraints are the last line of defence: even a buggy statement cannot store a negative count.
stock = Table(
    "stock",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("available", Integer, nullable=False, default=0),
    Column("reserved", Integer, nullable=False, default=0),
    Column("sold", Integer, nullable=False, default=0),
    CheckConstraint("available >= 0", name="stock_available_not_negative"),
    CheckConstraint("reserved >= 0", name="stock_reserved_not_negative"),
    CheckConstraint("sold >= 0", name="stock_sold_not_negative"),
)

reservations = Table(
    "reservations",
    metadata,
    Column("payment_id", String(128), primary_key=True),
    Column("reservation_id", String(36), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("lines", JSON, nullable=False),  # [[sku, quantity], ...] sorted by sku
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("reason", Text, nullable=True),
    Index("reservations_due", "status", "expires_at"),
)
