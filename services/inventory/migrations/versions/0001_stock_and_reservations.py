"""stock and reservations

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stock",
        sa.Column("sku", sa.String(64), primary_key=True),
        sa.Column("available", sa.Integer, nullable=False),
        sa.Column("reserved", sa.Integer, nullable=False),
        sa.Column("sold", sa.Integer, nullable=False),
        sa.CheckConstraint("available >= 0", name="stock_available_not_negative"),
        sa.CheckConstraint("reserved >= 0", name="stock_reserved_not_negative"),
        sa.CheckConstraint("sold >= 0", name="stock_sold_not_negative"),
    )
    op.create_table(
        "reservations",
        sa.Column("payment_id", sa.String(128), primary_key=True),
        sa.Column("reservation_id", sa.String(36), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lines", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
    )
    op.create_index("reservations_due", "reservations", ["status", "expires_at"])


def downgrade() -> None:
    op.drop_index("reservations_due", "reservations")
    op.drop_table("reservations")
    op.drop_table("stock")
