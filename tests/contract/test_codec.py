import uuid

import pytest

from shared.contracts import ContractViolation, decode, envelope_for, registered_contracts
from shared.contracts.base import Event
from shared.contracts.payment import PaymentCaptured, PaymentDeclined
from shared.messaging.envelope import Envelope
from shared.messaging.errors import PermanentError, UnknownMessageType


def captured(**overrides: object) -> PaymentCaptured:
    fields: dict[str, object] = {
        "payment_id": "pay-1",
        "order_id": "order-1",
        "customer_id": "cust-1",
        "customer_email": "ada@example.com",
        "amount": 2500,
        "currency": "EUR",
        "charge_id": "ch_1",
    }
    return PaymentCaptured.model_validate({**fields, **overrides})


def test_envelope_for_sets_type_producer_and_payload_when_given_a_contract() -> None:
    envelope = envelope_for(captured(), correlation_id="corr-1")

    assert envelope.type == "payment.captured.v1"
    assert envelope.producer == "payment"
    assert envelope.routing_key == "payment.captured"
    assert envelope.correlation_id == "corr-1"
    assert envelope.payload["charge_id"] == "ch_1"
    assert envelope.payload["amount"] == 2500


def test_envelope_for_keeps_the_conversation_when_caused_by_a_message() -> None:
    cause = envelope_for(captured(), correlation_id="corr-1", traceparent="00-abc-def-01")

    effect = envelope_for(captured(payment_id="pay-2"), causation=cause)

    assert effect.correlation_id == "corr-1"
    assert effect.causation_id == str(cause.message_id)
    assert effect.traceparent == "00-abc-def-01"


def test_envelope_for_starts_a_conversation_when_no_correlation_is_given() -> None:
    message_id = uuid.uuid4()

    envelope = envelope_for(captured(), message_id=message_id)

    assert envelope.message_id == message_id
    assert envelope.correlation_id == str(message_id)


def test_envelope_for_raises_contract_violation_when_the_instance_bypassed_validation() -> None:
    forged = PaymentCaptured.model_construct(payment_id="pay-1", amount=-5)

    with pytest.raises(ContractViolation, match=r"payment\.captured\.v1 .*charge_id: Field required"):
        envelope_for(forged)


def test_envelope_for_raises_type_error_when_the_model_declares_no_message_type() -> None:
    class Abstract(Event):
        pass

    with pytest.raises(TypeError, match="declares no message_type"):
        envelope_for(Abstract())


def test_decode_returns_the_accepted_model_when_the_payload_is_valid() -> None:
    envelope = envelope_for(captured())

    event = decode(envelope, accepts=(PaymentDeclined, PaymentCaptured))

    assert isinstance(event, PaymentCaptured)
    assert event == captured()


def test_decode_raises_a_permanent_violation_naming_every_field_when_the_payload_is_invalid() -> None:
    envelope = Envelope(
        type="payment.captured.v1",
        correlation_id="c",
        producer="payment",
        payload={**envelope_for(captured()).payload, "amount": -1, "charge_id": None},
    )

    with pytest.raises(ContractViolation) as raised:
        decode(envelope, accepts=(PaymentCaptured,))

    assert isinstance(raised.value, PermanentError)
    reason = str(raised.value)
    assert reason.startswith("payment.captured.v1 payload violates its contract: ")
    assert "amount: Input should be greater than or equal to 0" in reason
    assert "charge_id: Input should be a valid string" in reason
    assert "\n" not in reason  # it travels as a one-line dead-letter reason header
    assert {error["loc"] for error in raised.value.errors} == {("amount",), ("charge_id",)}


def test_decode_raises_unknown_type_when_the_handler_does_not_accept_the_type() -> None:
    envelope = envelope_for(captured())

    with pytest.raises(UnknownMessageType, match=r"payment\.captured\.v1 is not accepted here .*declined"):
        decode(envelope, accepts=(PaymentDeclined,))


def test_register_false_keeps_a_model_out_of_the_registry_when_declared() -> None:
    class Renamed(PaymentCaptured, register=False):
        message_type = "payment.captured.v1"
        charge_ref: str

    assert registered_contracts()["payment.captured.v1"] is PaymentCaptured
    assert Renamed.message_type == "payment.captured.v1"
