"""stock, reservations, and the platform's outbox and inbox tables

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.outbox.migration import create_outbox_and_inbox, drop_outbox_and_inbox
from shared.persistence.metadata import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stock",
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("available", sa.Integer, nullable=False),
        sa.Column("reserved", sa.Integer, nullable=False),
        sa.Column("sold", sa.Integer, nullable=False),
        sa.CheckConstraint("available >= 0", name="ck_stock_available_not_negative"),
        sa.CheckConstraint("reserved >= 0", name="ck_stock_reserved_not_negative"),
        sa.CheckConstraint("sold >= 0", name="ck_stock_sold_not_negative"),
        sa.PrimaryKeyConstraint("sku", name="pk_stock"),
    )
    op.create_table(
        "reservations",
        sa.Column("payment_id", sa.String(128), nullable=False),
        sa.Column("reservation_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lines", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("payment_id", name="pk_reservations"),
        sa.UniqueConstraint("reservation_id", name="uq_reservations_reservation_id"),
    )
    op.create_index("ix_reservations_due", "reservations", ["status", "expires_at"])
    create_outbox_and_inbox(op)


def downgrade() -> None:
    drop_outbox_and_inbox(op)
    op.drop_index("ix_reservations_due", "reservations")
    op.drop_table("reservations")
    op.drop_table("stock")
