"""The payment tables (SQLAlchemy Core). Alembic migrations create them; tests may use ``metadata``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

metadata = MetaData()


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite keeps no zone: stored naive UTC, read back aware)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


payments = Table(
    "payments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("order_id", String(128), nullable=False),
    Column("customer_id", String(128), nullable=False),
    Column("customer_email", String(320), nullable=False),
    Column("customer_country", String(2), nullable=False),
    Column("items", JSON, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("token", String(128), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("fraud_decision", String(16)),
    Column("fraud_score", Integer),
    Column("fraud_reasons", JSON, nullable=False),
    Column("stock_status", String(16)),
    Column("reservation_id", String(128)),
    Column("review_decision", String(16)),
    Column("charge_id", String(128)),
    Column("charge_attempts", Integer, nullable=False),
    Column("charge_due_at", UtcDateTime()),
    Column("deadline", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("history", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    # The sweeper's query: payments with a due charge, oldest first. Partial where the database allows.
    Index(
        "ix_payments_charge_due_at",
        "charge_due_at",
        postgresql_where="charge_due_at IS NOT NULL",
        sqlite_where="charge_due_at IS NOT NULL",
    ),
)
