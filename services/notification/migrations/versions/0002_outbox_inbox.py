"""outbox (task dispatches), relay lease and inbox tables from shared.outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from alembic import op

from shared.outbox.migration import create_outbox_and_inbox, drop_outbox_and_inbox

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_and_inbox(op)


def downgrade() -> None:
    drop_outbox_and_inbox(op)
