"""outbox, relay lease and inbox tables (the platform's, shared.outbox.migration)

Revision ID: 0002_outbox_inbox
Revises: 0001_payments
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from shared.outbox.migration import create_outbox_and_inbox, drop_outbox_and_inbox

revision = "0002_outbox_inbox"
down_revision = "0001_payments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_and_inbox(op)


def downgrade() -> None:
    drop_outbox_and_inbox(op)
