"""Fraud's tables (SQLAlchemy Core): one assessment per payment (also the velocity ledger), one row per
customer (the lock that makes velocity counts exact under concurrency)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Integer, MetaData, String, Table, TypeDecorator
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


assessments = Table(
    "assessments",
    metadata,
    # The primary key is what makes velocity idempotent: a redelivered request cannot add a second row.
    Column("payment_id", String(128), primary_key=True),
    Column("customer_id", String(128), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("score", Integer, nullable=False),
    Column("reasons", JSON, nullable=False),
    Index("assessments_velocity", "customer_id", "requested_at"),
)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(128), primary_key=True),
)
