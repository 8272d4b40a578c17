"""The inbox table: which handler has already taken effect for which message id."""

from __future__ import annotations

from sqlalchemy import Column, Index, PrimaryKeyConstraint, String, Table

from shared.persistence.metadata import PLATFORM_METADATA, UTCDateTime

inbox_messages = Table(
    "inbox_messages",
    PLATFORM_METADATA,
    Column("handler", String(200), nullable=False),
    Column("message_id", String(64), nullable=False),
    Column("message_type", String(200), nullable=True),
    Column("handled_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("handler", "message_id"),
    Index("ix_inbox_messages_handled_at", "handled_at"),
)
