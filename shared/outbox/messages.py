"""Outbox rows: built from a recorded event or a task dispatch at commit, turned into an AMQP message by the relay."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import aio_pika
from aio_pika.abc import DeliveryMode

from shared.contracts.base import Contract
from shared.messaging.envelope import CONTENT_TYPE
from shared.messaging.topology import events_exchange
from shared.outbox.celery_format import celery_body, celery_headers
from shared.outbox.schema import RowKind

# AMQP header carrying Warren's correlation id on task messages (their correlation_id property is the task id).
TASK_CORRELATION_HEADER = "x-warren-correlation-id"


def event_row(
    event: Contract,
    *,
    aggregate_id: str | None,
    correlation_id: str,
    causation_id: str | None,
    traceparent: str | None,
    created_at: datetime,
    exchange: str | None = None,
) -> dict[str, Any]:
    """The outbox row for ``event``: published to ``<producer>.events`` with its routing key."""
    return {
        "message_id": str(uuid.uuid4()),
        "kind": RowKind.EVENT.value,
        "message_type": event.message_type,
        "aggregate_id": aggregate_id,
        "exchange": exchange if exchange is not None else events_exchange(event.producer),
        "routing_key": event.routing_key(),
        "producer": event.producer,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "traceparent": traceparent,
        "headers": None,
        "payload": event.model_dump_json(),
        "created_at": created_at,
    }


def task_row(
    task: str,
    *,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    queue: str,
    producer: str,
    aggregate_id: str | None,
    correlation_id: str,
    causation_id: str | None,
    traceparent: str | None,
    created_at: datetime,
    exchange: str = "",
    routing_key: str | None = None,
) -> dict[str, Any]:
    """The outbox row for a Celery task: by default through the default exchange straight to ``queue``."""
    task_id = str(uuid.uuid4())
    headers = celery_headers(task=task, task_id=task_id, args=args, kwargs=kwargs)
    headers[TASK_CORRELATION_HEADER] = correlation_id
    if causation_id is not None:
        headers["causation_id"] = causation_id
    if traceparent is not None:
        headers["traceparent"] = traceparent
    return {
        "message_id": task_id,
        "kind": RowKind.TASK.value,
        "message_type": task,
        "aggregate_id": aggregate_id,
        "exchange": exchange,
        "routing_key": routing_key if routing_key is not None else queue,
        "producer": producer,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "traceparent": traceparent,
        "headers": headers,
        "payload": celery_body(args, kwargs),
        "created_at": created_at,
    }


def to_message(row: Mapping[str, Any]) -> aio_pika.Message:
    """The AMQP message a row stands for: what a direct publish of the envelope (or task) would have sent.

    The payload column already holds the JSON body, so the relay sends it as it is: no envelope model, no JSON
    decoding and re-encoding per row (the relay's hottest loop). Properties and headers are those of
    :meth:`~shared.messaging.envelope.Envelope.to_message`; the body is the event's JSON as recorded (same value, and byte for byte the
    same for ASCII payloads).
    """
    if row["kind"] == RowKind.TASK.value:
        return aio_pika.Message(
            body=row["payload"].encode(),
            message_id=row["message_id"],
            correlation_id=row["message_id"],
            app_id=row["producer"],
            content_type=CONTENT_TYPE,
            content_encoding="utf-8",
            delivery_mode=DeliveryMode.PERSISTENT,
            headers=dict(row["headers"] or {}),
            timestamp=row["created_at"],
        )
    created_at: datetime = row["created_at"]
    # The headers of Envelope.headers(), in its order (an event row has no ordering key).
    headers: dict[str, Any] = {"occurred_at": created_at.isoformat()}
    if row["causation_id"] is not None:
        headers["causation_id"] = row["causation_id"]
    if row["traceparent"] is not None:
        headers["traceparent"] = row["traceparent"]
    if row["headers"]:
        headers.update(row["headers"])
    return aio_pika.Message(
        body=row["payload"].encode(),
        message_id=row["message_id"],
        type=row["message_type"],
        correlation_id=row["correlation_id"],
        app_id=row["producer"],
        timestamp=created_at,
        content_type=CONTENT_TYPE,
        delivery_mode=DeliveryMode.PERSISTENT,
        headers=headers,
    )
