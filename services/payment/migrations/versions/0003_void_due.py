"""payments.void_due_at and void_attempts: voiding what a failed payment's lost attempts may have charged

Revision ID: 0003_void_due
Revises: 0002_outbox_inbox
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.persistence.metadata import UTCDateTime

revision = "0003_void_due"
down_revision = "0002_outbox_inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("void_due_at", UTCDateTime()))
        batch.add_column(sa.Column("void_attempts", sa.Integer, nullable=False, server_default="0"))
    op.create_index(
        "ix_payments_void_due_at",
        "payments",
        ["void_due_at"],
        postgresql_where=sa.text("void_due_at IS NOT NULL"),
        sqlite_where=sa.text("void_due_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_payments_void_due_at", table_name="payments")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("void_attempts")
        batch.drop_column("void_due_at")
