"""Verify every producer against every consumer's expectations, using the producers' real message builders."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from shared.contracts.base import Contract
from shared.contracts.catalogue import Catalogue
from shared.contracts.codec import ContractViolation, envelope_for
from shared.contracts.expectations import ConsumerExpectations, verify_payload, verify_schema


def build_examples(catalogue: Catalogue) -> tuple[dict[str, list[Contract]], list[str]]:
    """Run every producer's example builders: the messages by producer, and the problems met on the way."""
    built: dict[str, list[Contract]] = {}
    problems: list[str] = []
    for service in catalogue.services:
        if service.examples is None:
            continue
        try:
            examples = list(service.examples())
        except Exception as exc:  # a broken builder is a finding, reported with the others
            problems.append(f"producer {service.name!r}: its example builders raised {exc!r}")
            continue
        for example in examples:
            if example.producer != service.name:
                problems.append(
                    f"producer {service.name!r} built a {example.message_type}, which {example.producer!r} produces"
                )
        built[service.name] = examples
    return built, problems


def verify_examples(catalogue: Catalogue, examples: Mapping[str, list[Contract]], today: date) -> list[str]:
    """Each producer's built messages pass :func:`envelope_for`, and every current type it emits has one.

    A deprecated version (``deprecated_until`` set) needs no example: its producer has moved to the successor.
    """
    problems: list[str] = []
    for model in catalogue.live_contracts(today):
        if model.deprecated_until is not None:
            continue
        built = examples.get(model.producer)
        if built is None:
            problems.append(
                f"producer {model.producer!r} declares no example builders, so {model.message_type} cannot be "
                "verified against its code"
            )
            continue
        if not any(example.message_type == model.message_type for example in built):
            problems.append(f"producer {model.producer!r} builds no example of {model.message_type}")
    for producer, built in sorted(examples.items()):
        for example in built:
            try:
                envelope_for(example)
            except ContractViolation as exc:
                problems.append(f"producer {producer!r} built an invalid message: {exc}")
    return problems


def verify_consumers(
    catalogue: Catalogue,
    expectations: Mapping[str, ConsumerExpectations],
    examples: Mapping[str, list[Contract]],
) -> list[str]:
    """Every way a producer breaks a consumer's declared expectations (each names consumer, type, field)."""
    problems: list[str] = []
    registered = {model.message_type: model for model in catalogue.contracts}
    for service in catalogue.services:
        if service.topology.queues and service.name not in expectations:
            problems.append(
                f"consumer {service.name!r} has handlers but no contracts/expectations/{service.name}.json"
            )
    for consumer, declared in sorted(expectations.items()):
        try:
            handlers = catalogue.service(consumer).handlers()
        except KeyError:
            problems.append(f"contracts/expectations/{consumer}.json names a consumer no service declares")
            continue
        accepted = {message_type for handler in handlers for message_type in handler.accepted_types()}
        for message_type, expectation in sorted(declared.messages.items()):
            model = registered.get(message_type)
            if model is None:
                problems.append(
                    f"consumer {consumer!r} relies on {message_type}, but no producer declares that type "
                    "(removed, or renamed to a new version?)"
                )
                continue
            if message_type not in accepted:
                problems.append(
                    f"consumer {consumer!r} declares expectations on {message_type}, but none of its handlers accepts it"
                )
            for name in expectation.handlers:
                if not any(h.queue.handler == name and message_type in h.accepted_types() for h in handlers):
                    problems.append(
                        f"consumer {consumer!r} names handler {name!r} for {message_type}, which does not accept it"
                    )
            problems.extend(verify_schema(consumer, message_type, expectation, model.model_json_schema()))
            for example in examples.get(model.producer, []):
                if example.message_type != message_type:
                    continue
                try:
                    payload = envelope_for(example).payload
                except ContractViolation:
                    continue  # reported by verify_examples
                problems.extend(verify_payload(consumer, message_type, expectation, payload))
        for message_type in sorted(accepted - set(declared.messages)):
            problems.append(
                f"consumer {consumer!r} accepts {message_type} but contracts/expectations/{consumer}.json does not "
                "say which of its fields it relies on"
            )
    return list(dict.fromkeys(problems))
