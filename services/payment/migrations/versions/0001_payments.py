"""payments table

Revision ID: 0001_payments
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.persistence.metadata import UTCDateTime

revision = "0001_payments"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("order_id", sa.String(128), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("customer_email", sa.String(320), nullable=False),
        sa.Column("customer_country", sa.String(2), nullable=False),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("token", sa.String(128), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("fraud_decision", sa.String(16)),
        sa.Column("fraud_score", sa.Integer),
        sa.Column("fraud_reasons", sa.JSON, nullable=False),
        sa.Column("stock_status", sa.String(16)),
        sa.Column("reservation_id", sa.String(128)),
        sa.Column("review_decision", sa.String(16)),
        sa.Column("charge_id", sa.String(128)),
        sa.Column("charge_attempts", sa.Integer, nullable=False),
        sa.Column("charge_due_at", UTCDateTime()),
        sa.Column("deadline", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("history", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.UniqueConstraint("idempotency_key", name="uq_payments_idempotency_key"),
    )
    op.create_index(
        "ix_payments_charge_due_at",
        "payments",
        ["charge_due_at"],
        postgresql_where=sa.text("charge_due_at IS NOT NULL"),
        sqlite_where=sa.text("charge_due_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_payments_charge_due_at", table_name="payments")
    op.drop_table("payments")
