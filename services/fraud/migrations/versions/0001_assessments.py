"""assessments, customers, and the platform's outbox and inbox tables

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
        "assessments",
        sa.Column("payment_id", sa.String(128), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name="pk_assessments"),
    )
    op.create_index("ix_assessments_velocity", "assessments", ["customer_id", "requested_at"])
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_customers"),
    )
    create_outbox_and_inbox(op)


def downgrade() -> None:
    drop_outbox_and_inbox(op)
    op.drop_table("customers")
    op.drop_index("ix_assessments_velocity", "assessments")
    op.drop_table("assessments")
