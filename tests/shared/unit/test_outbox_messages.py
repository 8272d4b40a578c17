"""Outbox rows become exactly the messages a direct publish would send: Warren envelopes and Celery tasks."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from kombu.message import Message as KombuMessage

from shared.messaging.envelope import Envelope
from shared.outbox.messages import TASK_CORRELATION_HEADER, event_row, task_row, to_message
from shared.testing.outbox import ProbeHappened

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_event_row_reads_back_as_the_envelope_when_published() -> None:
    event = ProbeHappened(probe_id="p1", seq=3)
    row = {
        **event_row(
            event, aggregate_id="p1", correlation_id="c", causation_id="m0", traceparent=None, created_at=NOW
        ),
        "id": 1,
    }
    assert (row["exchange"], row["routing_key"]) == ("probe.events", "probe.happened")
    message = to_message(row)
    envelope = Envelope.from_message(message)  # type: ignore[arg-type]
    assert envelope.message_id == uuid.UUID(row["message_id"])
    assert envelope.type == "probe.happened.v1"
    assert (envelope.correlation_id, envelope.causation_id) == ("c", "m0")
    assert envelope.occurred_at == NOW
    assert ProbeHappened.model_validate(envelope.payload) == event


def test_event_row_is_the_message_the_envelope_would_send_when_relayed_without_reencoding() -> None:
    event = ProbeHappened(probe_id="p1", seq=3, padding="caf\u00e9")
    row = event_row(
        event,
        aggregate_id="p1",
        correlation_id="c",
        causation_id="m0",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        created_at=NOW,
    )
    row["headers"] = {"x-extra": "1"}
    envelope = Envelope(
        message_id=uuid.UUID(row["message_id"]),
        type=row["message_type"],
        correlation_id="c",
        causation_id="m0",
        occurred_at=NOW,
        producer="probe",
        traceparent=row["traceparent"],
        payload=json.loads(row["payload"]),
    )
    direct = envelope.to_message({"x-extra": "1"})
    relayed = to_message(row)
    assert relayed.properties == direct.properties  # every AMQP property and header, in the same order
    assert list(relayed.headers) == list(direct.headers)
    assert json.loads(relayed.body) == json.loads(direct.body)
    assert relayed.body == row["payload"].encode()  # the recorded JSON, not re-encoded


def test_task_row_is_a_celery_protocol_2_message_when_published() -> None:
    row = task_row(
        "notification.deliver_email",
        args=["n-1"],
        kwargs={"urgent": True},
        queue="notifications.email",
        producer="notification",
        aggregate_id=None,
        correlation_id="corr",
        causation_id="m1",
        traceparent="00-abc-def-01",
        created_at=NOW,
    )
    assert (row["exchange"], row["routing_key"]) == ("", "notifications.email")
    message = to_message(row)
    headers = message.headers
    assert message.correlation_id == row["message_id"] == headers["id"] == headers["root_id"]
    assert headers["lang"] == "py"
    assert headers["task"] == "notification.deliver_email"
    assert headers["parent_id"] is None
    assert headers["argsrepr"] == "('n-1',)"
    assert headers[TASK_CORRELATION_HEADER] == "corr"
    assert message.content_type == "application/json"
    assert message.content_encoding == "utf-8"
    args, kwargs, embed = json.loads(message.body)
    assert (args, kwargs) == (["n-1"], {"urgent": True})
    assert set(embed) == {"callbacks", "errbacks", "chain", "chord"}


def test_celery_decodes_the_task_body_when_kombu_reads_it() -> None:
    row = task_row(
        "t.name",
        args=[1, "two"],
        kwargs={"k": [3]},
        queue="q",
        producer="p",
        aggregate_id=None,
        correlation_id="c",
        causation_id=None,
        traceparent=None,
        created_at=NOW,
    )
    message = to_message(row)
    decoded = KombuMessage(
        body=message.body,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        headers=message.headers,
    ).decode()
    assert decoded[0] == [1, "two"]
    assert decoded[1] == {"k": [3]}
