import pytest
from pydantic import ValidationError

from shared.contracts import contract_for, registered_contracts
from shared.contracts.payment import PaymentCaptured, PaymentRequested
from shared.messaging.errors import UnknownMessageType


def test_every_contract_is_registered_under_its_versioned_type() -> None:
    contracts = registered_contracts()
    assert contracts["payment.captured.v1"] is PaymentCaptured
    for message_type, model in contracts.items():
        assert model.message_type == message_type
        assert model.routing_key().split(".")[0] == model.producer


def test_contract_for_raises_unknown_type_when_type_is_not_registered() -> None:
    with pytest.raises(UnknownMessageType, match="payment.exploded.v1"):
        contract_for("payment.exploded.v1")


def test_payment_requested_rejects_when_quantity_is_not_positive() -> None:
    payload = {
        "payment_id": "p1",
        "order_id": "o1",
        "customer": {"id": "c1", "email": "a@example.com", "country": "DE"},
        "items": [{"sku": "sku-1", "quantity": 0, "unit_amount": 100}],
        "amount": 0,
        "currency": "EUR",
    }
    with pytest.raises(ValidationError, match="items.0.quantity"):
        PaymentRequested.model_validate(payload)


def test_contracts_ignore_unknown_fields_when_a_producer_adds_one() -> None:
    captured = PaymentCaptured.model_validate(
        {
            "payment_id": "p1",
            "order_id": "o1",
            "customer_id": "c1",
            "customer_email": "a@example.com",
            "amount": 100,
            "currency": "EUR",
            "charge_id": "ch_1",
            "added_later": True,
        }
    )
    assert captured.charge_id == "ch_1"
