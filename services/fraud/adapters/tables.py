"""Fraud's tables (SQLAlchemy Core): one assessment per payment (also the velocity ledger), one row per
customer (the lock that makes velocity counts exact under concurrency)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table

from shared.persistence.metadata import UTCDateTime, new_metadata

metadata = new_metadata()


assessments = Table(
    "assessments",
    metadata,
    # The primary key is what makes velocity idempotent: a redelivered request cannot add a second row.
    Column("payment_id", String(128), primary_key=True),
    Column("customer_id", String(128), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("score", Integer, nullable=False),
    Column("reasons", JSON, nullable=False),
    Index("ix_assessments_velocity", "customer_id", "requested_at"),
)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(128), primary_key=True),
)
