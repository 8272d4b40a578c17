"""The notification table. One row per (outcome, channel, recipient): the uniqueness rule lives here."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text, UniqueConstraint

from shared.persistence.metadata import UTCDateTime, new_metadata

metadata = new_metadata()


notifications = Table(
    "notifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("dedupe_key", String(200), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("recipient", String(500), nullable=False),
    Column("template", String(100), nullable=False),
    Column("subject", Text, nullable=True),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text, nullable=True),
    Column("correlation_id", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("failed_at", UTCDateTime, nullable=True),
    # The rule of the service: one notification per outcome per channel and recipient, whatever arrives twice.
    UniqueConstraint("dedupe_key", "channel", "recipient", name="uq_notifications_outcome_channel_recipient"),
    Index("ix_notifications_status_created_at", "status", "created_at"),
    Index("ix_notifications_correlation_id", "correlation_id"),
)
