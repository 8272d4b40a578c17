from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from enum import StrEnum
from typing import ClassVar

from contract_tools import artefacts, fallback
from contract_tools.declarations import Loaded

from shared.contracts.base import Contract
from shared.contracts.catalogue import Catalogue
from shared.contracts.expectations import (
    ConsumerExpectations,
    FieldExpectation,
    MessageExpectation,
    load_expectations,
    verify_payload,
    verify_schema,
)
from shared.contracts.fraud import FraudAssessed
from shared.contracts.payment import PaymentCaptured, PaymentOutcome
from shared.contracts.verification import build_examples, verify_consumers, verify_examples


def expectations() -> dict[str, ConsumerExpectations]:
    return load_expectations(artefacts.EXPECTATIONS)


def with_producer(loaded: Loaded, replaced: type[Contract], examples: Iterable[Contract]) -> Catalogue:
    """The suite's catalogue with one contract swapped for ``replaced`` and its producer building ``examples``."""
    built = list(examples)
    contracts = [model for model in loaded.catalogue.contracts if model.message_type != replaced.message_type]
    services = [
        replace(service, examples=lambda built=built: built) if service.name == replaced.producer else service
        for service in loaded.catalogue.services
    ]
    return Catalogue.build(services, [*contracts, replaced])


def test_every_consumer_expectation_holds_when_verified_against_the_real_producers(loaded: Loaded) -> None:
    examples, problems = build_examples(loaded.catalogue)

    assert problems == []
    assert verify_consumers(loaded.catalogue, expectations(), examples) == []


def test_every_producer_builds_valid_examples_of_every_type_when_verified(
    loaded: Loaded, today: date
) -> None:
    examples, _ = build_examples(loaded.catalogue)

    assert verify_examples(loaded.catalogue, examples, today) == []


def test_checker_names_consumer_type_and_field_when_a_producer_renames_a_field(loaded: Loaded) -> None:
    class BrokenCaptured(PaymentOutcome, register=False):
        message_type: ClassVar[str] = "payment.captured.v1"

        charge_ref: str  # was charge_id

    broken = BrokenCaptured(
        payment_id="pay-1",
        order_id="order-1",
        customer_id="cust-1",
        customer_email="ada@example.com",
        amount=2500,
        currency="EUR",
        charge_ref="ch_1",
    )
    catalogue = with_producer(loaded, BrokenCaptured, [broken])
    examples, _ = build_examples(catalogue)

    problems = verify_consumers(catalogue, expectations(), examples)

    assert (
        "consumer 'notification' relies on payment.captured.v1 field 'charge_id': the producer's schema has no "
        "field 'charge_id' in the message"
    ) in problems
    assert any(
        problem.startswith("consumer 'notification' relies on payment.captured.v1 field 'charge_id': missing")
        for problem in problems
    )


def test_checker_fails_when_a_producer_makes_a_required_field_optional(loaded: Loaded) -> None:
    class LooseCaptured(PaymentOutcome, register=False):
        message_type: ClassVar[str] = "payment.captured.v1"

        charge_id: str | None = None

    built = LooseCaptured(
        payment_id="pay-1",
        order_id="order-1",
        customer_id="cust-1",
        customer_email="ada@example.com",
        amount=1,
        currency="EUR",
    )
    catalogue = with_producer(loaded, LooseCaptured, [built])

    problems = verify_consumers(catalogue, expectations(), build_examples(catalogue)[0])

    assert (
        "consumer 'notification' relies on payment.captured.v1 field 'charge_id': the producer may omit it or "
        "send null (optional in its schema), but the consumer requires it"
    ) in problems
    assert (
        "consumer 'notification' relies on payment.captured.v1 field 'charge_id': missing or null in a payload "
        "the producer built: "
    ) in "".join(problems)


def test_checker_fails_when_a_producer_adds_an_enum_value_a_consumer_does_not_understand(
    loaded: Loaded,
) -> None:
    class Verdict(StrEnum):
        APPROVED = "approved"
        REVIEW = "review"
        REJECTED = "rejected"
        ESCALATED = "escalated"

    class EscalatingAssessment(FraudAssessed, register=False):
        decision: Verdict  # type: ignore[assignment]

    built = EscalatingAssessment(payment_id="pay-1", decision=Verdict.ESCALATED, score=99)
    catalogue = with_producer(loaded, EscalatingAssessment, [built])

    problems = verify_consumers(catalogue, expectations(), build_examples(catalogue)[0])

    assert problems == [
        "consumer 'payment' relies on fraud.assessed.v1 field 'decision': the producer may send ['escalated'], "
        "which the consumer does not understand",
        "consumer 'payment' relies on fraud.assessed.v1 field 'decision': the producer built 'escalated', which "
        "the consumer does not understand (['approved', 'review', 'rejected'])",
    ]


def test_checker_fails_when_a_consumer_accepts_a_type_it_declares_no_expectations_for(loaded: Loaded) -> None:
    declared = expectations()
    notification = declared["notification"]
    trimmed = notification.model_copy(
        update={"messages": {k: v for k, v in notification.messages.items() if k != "inventory.stock_low.v1"}}
    )
    examples, _ = build_examples(loaded.catalogue)

    problems = verify_consumers(loaded.catalogue, {**declared, "notification": trimmed}, examples)

    assert problems == [
        "consumer 'notification' accepts inventory.stock_low.v1 but contracts/expectations/notification.json does "
        "not say which of its fields it relies on"
    ]


def test_checker_fails_when_a_consumer_relies_on_a_type_no_producer_declares(loaded: Loaded) -> None:
    declared = expectations()
    payment = declared["payment"]
    extra = payment.model_copy(
        update={"messages": {**payment.messages, "fraud.assessed.v2": MessageExpectation()}}
    )
    examples, _ = build_examples(loaded.catalogue)

    problems = verify_consumers(loaded.catalogue, {**declared, "payment": extra}, examples)

    assert problems == [
        "consumer 'payment' relies on fraud.assessed.v2, but no producer declares that type (removed, or renamed "
        "to a new version?)"
    ]


def test_verify_schema_names_the_missing_segment_when_a_nested_field_is_gone() -> None:
    expectation = MessageExpectation(fields={"customer.tier": FieldExpectation(type="string")})
    schema = fallback.PaymentRequested.model_json_schema()

    assert verify_schema("fraud", "payment.requested.v1", expectation, schema) == [
        "consumer 'fraud' relies on payment.requested.v1 field 'customer.tier': the producer's schema has no "
        "field 'tier' in customer"
    ]


def test_verify_schema_rejects_the_type_when_the_consumer_expects_another() -> None:
    expectation = MessageExpectation(fields={"items[].quantity": FieldExpectation(type="string")})
    schema = fallback.PaymentRequested.model_json_schema()

    assert verify_schema("inventory", "payment.requested.v1", expectation, schema) == [
        "consumer 'inventory' relies on payment.requested.v1 field 'items[].quantity': expected type string, the "
        "producer's schema says ['integer']"
    ]


def test_verify_payload_checks_every_array_element_when_the_path_has_brackets() -> None:
    expectation = MessageExpectation(
        fields={
            "items[].sku": FieldExpectation(type="string"),
            "note": FieldExpectation(type="string", optional=True),
            "kind": FieldExpectation(type="string", values=("a", "b")),
            "ratio": FieldExpectation(type="number"),
        }
    )
    payload = {"items": [{"sku": "s1"}, {"sku": 7}, {}], "kind": "c", "ratio": 1}

    problems = verify_payload("c", "x.y.v1", expectation, payload)

    assert problems == [
        "consumer 'c' relies on x.y.v1 field 'items[].sku': expected type string, the producer built integer (7)",
        "consumer 'c' relies on x.y.v1 field 'items[].sku': missing or null in a payload the producer built: {}",
        "consumer 'c' relies on x.y.v1 field 'kind': the producer built 'c', which the consumer does not "
        "understand (['a', 'b'])",
    ]


def test_committed_expectation_files_are_named_after_their_consumer_when_loaded() -> None:
    declared = expectations()

    assert set(declared) == {"fraud", "inventory", "notification", "payment"}
    assert all(name == file.consumer for name, file in declared.items())
    assert PaymentCaptured.message_type in declared["notification"].messages
