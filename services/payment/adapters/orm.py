"""The payment tables (SQLAlchemy Core). Alembic migrations create them; tests may use ``metadata``."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Table, Text

from shared.persistence.metadata import UTCDateTime, new_metadata

metadata = new_metadata()


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
    Column("charge_due_at", UTCDateTime),
    Column("void_due_at", UTCDateTime),
    Column("void_attempts", Integer, nullable=False, server_default="0"),
    Column("deadline", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("history", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    # The sweeper's query: payments with a due charge, oldest first. Partial where the database allows.
    Index(
        "ix_payments_charge_due_at",
        "charge_due_at",
        postgresql_where="charge_due_at IS NOT NULL",
        sqlite_where="charge_due_at IS NOT NULL",
    ),
    Index(
        "ix_payments_void_due_at",
        "void_due_at",
        postgresql_where="void_due_at IS NOT NULL",
        sqlite_where="void_due_at IS NOT NULL",
    ),
)
