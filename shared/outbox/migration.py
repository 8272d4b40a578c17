"""Alembic operations creating the outbox, relay lease and inbox tables, for each service's own migrations.

A service's first revision calls ``create_outbox_and_inbox(op)`` in ``upgrade()`` (and ``drop_outbox_and_inbox(op)``
in ``downgrade()``); its ``env.py`` targets ``[service_metadata, PLATFORM_METADATA]`` so autogenerate sees both.
A later change to these tables ships as a new function here (``..._v2``) that services call from a new revision.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.inbox import schema as _inbox_schema
from shared.outbox import schema as _outbox_schema
from shared.persistence.metadata import PLATFORM_METADATA, UTCDateTime

# The outbox, lease and inbox tables, for a service's alembic ``target_metadata`` (next to its own metadata).
TABLES = (_outbox_schema.outbox_messages, _outbox_schema.outbox_relay_lease, _inbox_schema.inbox_messages)
__all__ = ["PLATFORM_METADATA", "TABLES", "create_outbox_and_inbox", "drop_outbox_and_inbox"]


def _row_id() -> Any:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def create_outbox_and_inbox(op: Any) -> None:
    """Create ``outbox_messages``, ``outbox_relay_lease`` and ``inbox_messages`` (schema version 1)."""
    op.create_table(
        "outbox_messages",
        sa.Column("id", _row_id(), primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("message_type", sa.String(200), nullable=False),
        sa.Column("aggregate_id", sa.String(200), nullable=True),
        sa.Column("exchange", sa.String(255), nullable=False),
        sa.Column("routing_key", sa.String(255), nullable=False),
        sa.Column("producer", sa.String(100), nullable=False),
        sa.Column("correlation_id", sa.String(255), nullable=False),
        sa.Column("causation_id", sa.String(255), nullable=True),
        sa.Column("traceparent", sa.String(100), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False, server_default=sa.text("'pending'")),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_messages"),
        sa.UniqueConstraint("message_id", name="uq_outbox_messages_message_id"),
    )
    op.create_index("ix_outbox_messages_status_id", "outbox_messages", ["status", "id"])
    op.create_index("ix_outbox_messages_aggregate_id_id", "outbox_messages", ["aggregate_id", "id"])
    op.create_index("ix_outbox_messages_status_sent_at", "outbox_messages", ["status", "sent_at"])
    op.create_table(
        "outbox_relay_lease",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_outbox_relay_lease"),
    )
    op.create_table(
        "inbox_messages",
        sa.Column("handler", sa.String(200), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("message_type", sa.String(200), nullable=True),
        sa.Column("handled_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("handler", "message_id", name="pk_inbox_messages"),
    )
    op.create_index("ix_inbox_messages_handled_at", "inbox_messages", ["handled_at"])


def drop_outbox_and_inbox(op: Any) -> None:
    """Drop what :func:`create_outbox_and_inbox` created."""
    op.drop_index("ix_inbox_messages_handled_at", table_name="inbox_messages")
    op.drop_table("inbox_messages")
    op.drop_table("outbox_relay_lease")
    op.drop_index("ix_outbox_messages_status_sent_at", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_aggregate_id_id", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_status_id", table_name="outbox_messages")
    op.drop_table("outbox_messages")
