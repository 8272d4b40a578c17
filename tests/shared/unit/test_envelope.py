import json
import uuid

import aio_pika
import pytest

from shared.messaging.envelope import Envelope, split_message_type
from shared.messaging.errors import MalformedMessage


def make_envelope() -> Envelope:
    return Envelope(
        type="payment.captured.v1",
        correlation_id="order-1",
        producer="payment",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        payload={"payment_id": "p1", "amount": 1200},
    )


def test_routing_key_is_type_without_version_when_type_is_versioned() -> None:
    assert make_envelope().routing_key == "payment.captured"
    assert split_message_type("inventory.stock_low.v12") == ("inventory.stock_low", 12)


@pytest.mark.parametrize("bad", ["payment", "payment.captured", "Payment.Captured.v1", "payment.captured.v0"])
def test_split_message_type_refuses_when_type_is_unversioned_or_malformed(bad: str) -> None:
    with pytest.raises(ValueError, match="not of the form"):
        split_message_type(bad)


def test_envelope_round_trips_through_an_amqp_message() -> None:
    original = make_envelope()
    message = original.to_message()
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.content_type == "application/json"
    assert json.loads(message.body) == original.payload
    assert Envelope.from_message(message) == original


def test_caused_envelope_keeps_correlation_and_points_at_its_cause() -> None:
    cause = make_envelope()
    effect = cause.caused("inventory.committed.v1", {"payment_id": "p1"}, producer="inventory")
    assert effect.correlation_id == cause.correlation_id
    assert effect.causation_id == str(cause.message_id)
    assert effect.message_id != cause.message_id


@pytest.mark.parametrize(
    ("body", "reason"), [(b"not json", "not JSON"), (b"[1, 2]", "not an object"), (b"\xff\xfe", "not JSON")]
)
def test_from_message_raises_malformed_when_body_is_not_a_json_object(body: bytes, reason: str) -> None:
    message = aio_pika.Message(body=body, message_id=str(uuid.uuid4()), type="payment.captured.v1")
    with pytest.raises(MalformedMessage, match=reason):
        Envelope.from_message(message)


def test_from_message_raises_malformed_when_type_is_missing() -> None:
    message = aio_pika.Message(body=b"{}", message_id=str(uuid.uuid4()))
    with pytest.raises(MalformedMessage, match="no type"):
        Envelope.from_message(message)
