"""Inventory's tables (SQLAlchemy Core): stock counts and one reservation row per payment."""

from __future__ import annotations

from sqlalchemy import JSON, CheckConstraint, Column, Index, Integer, String, Table, Text

from shared.persistence.metadata import UTCDateTime, new_metadata

metadata = new_metadata()


# The CHECK constraints are the last line of defence: even a buggy statement cannot store a negative count.
stock = Table(
    "stock",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("available", Integer, nullable=False, default=0),
    Column("reserved", Integer, nullable=False, default=0),
    Column("sold", Integer, nullable=False, default=0),
    CheckConstraint("available >= 0", name="available_not_negative"),
    CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    CheckConstraint("sold >= 0", name="sold_not_negative"),
)

reservations = Table(
    "reservations",
    metadata,
    Column("payment_id", String(128), primary_key=True),
    Column("reservation_id", String(36), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("lines", JSON, nullable=False),  # [[sku, quantity], ...] sorted by sku
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("reason", Text, nullable=True),
    Index("ix_reservations_due", "status", "expires_at"),
)
