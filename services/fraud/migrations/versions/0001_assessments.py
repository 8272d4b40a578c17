"""assessments and customers

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
        "assessments",
        sa.Column("payment_id", sa.String(128), primary_key=True),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
    )
    op.create_index("assessments_velocity", "assessments", ["customer_id", "requested_at"])
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(128), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("customers")
    op.drop_index("assessments_velocity", "assessments")
    op.drop_table("assessments")
