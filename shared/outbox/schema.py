"""The outbox table (one row per message to publish) and the relay lease table (SQLite's single-relay guard)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Table, Text, text

from shared.persistence.metadata import PLATFORM_METADATA, UTCDateTime

# BIGINT on PostgreSQL; plain INTEGER on SQLite so the id is the rowid (SQLite autoincrements only that).
RowId = BigInteger().with_variant(Integer(), "sqlite")


class RowStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class RowKind(StrEnum):
    EVENT = "event"  # a Warren envelope (shared.messaging.envelope)
    TASK = "task"  # a Celery protocol-2 task message


outbox_messages = Table(
    "outbox_messages",
    PLATFORM_METADATA,
    # The id is the publish order: per aggregate, ids follow commit order because the unit of work writes its
    # state (which locks the aggregate's row) before it inserts the outbox rows.
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),
    Column("message_type", String(200), nullable=False),
    # Ordering key: rows with the same aggregate id are published one after another in id order.
    Column("aggregate_id", String(200), nullable=True),
    Column("exchange", String(255), nullable=False),
    Column("routing_key", String(255), nullable=False),
    Column("producer", String(100), nullable=False),
    Column("correlation_id", String(255), nullable=False),
    Column("causation_id", String(255), nullable=True),
    Column("traceparent", String(100), nullable=True),
    Column("headers", JSON, nullable=True),
    # The message body exactly as it goes on the wire (JSON text).
    Column("payload", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("status", String(8), nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_outbox_messages_status_id", "status", "id"),
    Index("ix_outbox_messages_aggregate_id_id", "aggregate_id", "id"),
    Index("ix_outbox_messages_status_sent_at", "status", "sent_at"),
)

outbox_relay_lease = Table(
    "outbox_relay_lease",
    PLATFORM_METADATA,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# What a row holds of its message, in table order: written by the unit of work (shared.outbox.writer), read back
# by the relay (shared.outbox.claims) to publish it.
MESSAGE_COLUMNS = (
    "message_id",
    "kind",
    "message_type",
    "aggregate_id",
    "exchange",
    "routing_key",
    "producer",
    "correlation_id",
    "causation_id",
    "traceparent",
    "headers",
    "payload",
    "created_at",
)
