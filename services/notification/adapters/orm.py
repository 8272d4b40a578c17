"""The notification table. One row per (outcome, channel, recipient): the uniqueness rule lives here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

metadata = MetaData()


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both databases (SQLite hands back naive datetimes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


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
    Column("claimed_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("failed_at", UtcDateTime, nullable=True),
    # The rule of the service: one notification per outcome per channel and recipient, whatever arrives twice.
    UniqueConstraint("dedupe_key", "channel", "recipient", name="uq_notifications_outcome_channel_recipient"),
    Index("ix_notifications_status_created_at", "status", "created_at"),
    Index("ix_notifications_correlation_id", "correlation_id"),
)
