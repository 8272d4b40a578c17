"""The standard envelope every Warren message travels in.

Metadata rides in AMQP properties and headers (so the management UI and any AMQP client can read it without
parsing the body); the body is the JSON payload of the contract model alone.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import aio_pika
from aio_pika.abc import AbstractMessage, DeliveryMode
from pydantic import BaseModel, ConfigDict, Field

from shared.messaging.errors import MalformedMessage
from shared.messaging.headers import ORDERING_KEY

_VERSIONED_TYPE = re.compile(r"^(?P<key>[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)\.v(?P<version>[1-9][0-9]*)$")
CONTENT_TYPE = "application/json"


@lru_cache(maxsize=1024)  # a service knows a handful of types; this runs on every publish
def split_message_type(message_type: str) -> tuple[str, int]:
    """Split ``payment.captured.v1`` into its routing key ``payment.captured`` and version ``1``."""
    match = _VERSIONED_TYPE.match(message_type)
    if match is None:
        raise ValueError(f"message type {message_type!r} is not of the form '<service>.<fact>.v<N>'")
    return match["key"], int(match["version"])


def _now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """One message: identity, causality, provenance and its JSON payload."""

    model_config = ConfigDict(frozen=True)

    message_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    correlation_id: str
    causation_id: str | None = None
    occurred_at: datetime = Field(default_factory=_now)
    producer: str
    traceparent: str | None = None
    # Messages with the same ordering key reach a sharded (ordered) handler queue's same shard, in order.
    ordering_key: str | None = None
    payload: dict[str, Any]

    @property
    def routing_key(self) -> str:
        """The routing key is the fact the type names, without its version: ``payment.captured``."""
        return split_message_type(self.type)[0]

    def caused(self, message_type: str, payload: dict[str, Any], *, producer: str) -> Envelope:
        """A new envelope caused by this one: same correlation id, causation id = this message id."""
        return Envelope(
            type=message_type,
            correlation_id=self.correlation_id,
            causation_id=str(self.message_id),
            producer=producer,
            traceparent=self.traceparent,
            payload=payload,
        )

    def body(self) -> bytes:
        return json.dumps(self.payload, separators=(",", ":"), default=str).encode()

    def headers(self) -> dict[str, Any]:
        headers: dict[str, Any] = {"occurred_at": self.occurred_at.isoformat()}
        if self.causation_id is not None:
            headers["causation_id"] = self.causation_id
        if self.traceparent is not None:
            headers["traceparent"] = self.traceparent
        if self.ordering_key is not None:
            headers[ORDERING_KEY] = self.ordering_key
        return headers

    def to_message(self, extra_headers: dict[str, Any] | None = None) -> aio_pika.Message:
        """Build a persistent JSON AMQP message carrying this envelope."""
        return aio_pika.Message(
            body=self.body(),
            message_id=str(self.message_id),
            type=self.type,
            correlation_id=self.correlation_id,
            app_id=self.producer,
            timestamp=self.occurred_at,
            content_type=CONTENT_TYPE,
            delivery_mode=DeliveryMode.PERSISTENT,
            headers={**self.headers(), **(extra_headers or {})},
        )

    @classmethod
    def from_message(cls, message: AbstractMessage) -> Envelope:
        """Read an envelope back; raise :class:`MalformedMessage` (a permanent error) when it is not one."""
        try:
            payload = json.loads(message.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedMessage(f"body is not JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise MalformedMessage("body is JSON but not an object")
        message_id = message.message_id
        if not message.type or not message_id:
            raise MalformedMessage("message has no type or no message_id property")
        headers = message.headers or {}
        try:
            # Raw strings in: pydantic parses the id and the timestamp once, in its compiled validator, called
            # directly (model_validate's own argument handling costs about as much as the validation).
            envelope: Envelope = cls.__pydantic_validator__.validate_python(
                {
                    "message_id": message_id,
                    "type": message.type,
                    "correlation_id": message.correlation_id or str(message_id),
                    "causation_id": _text(headers.get("causation_id")),
                    "occurred_at": headers.get("occurred_at") or message.timestamp or _now(),
                    "producer": message.app_id or "unknown",
                    "traceparent": _text(headers.get("traceparent")),
                    "ordering_key": _text(headers.get(ORDERING_KEY)),
                    "payload": payload,
                }
            )
        except ValueError as exc:
            raise MalformedMessage(f"envelope metadata is invalid: {exc}") from exc
        return envelope


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode()
    return str(value)
