"""Drift detection between a declared topology and what the broker reports."""

from __future__ import annotations

from warrenctl.drift import BindingKey, Expected, compare

QUORUM = {"x-queue-type": "quorum", "x-dead-letter-exchange": "payment.dead-letter"}


def _expected() -> Expected:
    expected = Expected(owners={"payment"})
    expected.exchanges["payment.events"] = ("topic", {})
    expected.exchanges["fraud.events"] = ("topic", {})
    expected.queues["payment.on_fraud"] = dict(QUORUM)
    expected.bindings.add(BindingKey("fraud.events", "payment.on_fraud", "fraud.assessed"))
    return expected


def _exchange(name: str, kind: str = "topic") -> dict[str, object]:
    return {"name": name, "type": kind, "arguments": {}}


def _binding(source: str, destination: str, key: str) -> dict[str, object]:
    return {"source": source, "destination": destination, "routing_key": key, "destination_type": "queue"}


def test_no_drift_when_the_broker_has_exactly_what_is_declared() -> None:
    drifts = compare(
        _expected(),
        [_exchange("payment.events"), _exchange("fraud.events"), _exchange("")],
        [{"name": "payment.on_fraud", "arguments": dict(QUORUM)}],
        [
            _binding("fraud.events", "payment.on_fraud", "fraud.assessed"),
            _binding("", "payment.on_fraud", "payment.on_fraud"),
        ],
    )
    assert drifts == []


def test_missing_and_different_entities_are_reported_when_the_broker_diverges() -> None:
    drifts = compare(
        _expected(),
        [_exchange("payment.events", "direct")],
        [{"name": "payment.on_fraud", "arguments": {"x-queue-type": "classic"}}],
        [],
    )
    found = {(d.kind, d.entity, d.name) for d in drifts}
    assert ("different", "exchange", "payment.events") in found
    assert ("missing", "exchange", "fraud.events") in found
    assert ("different", "queue", "payment.on_fraud") in found
    assert ("missing", "binding", "fraud.events -> queue payment.on_fraud ('fraud.assessed')") in found
    detail = next(d.detail for d in drifts if d.entity == "queue")
    assert "x-queue-type: declared 'quorum', broker has 'classic'" in detail


def test_strays_in_the_service_namespace_are_reported_when_nobody_declares_them() -> None:
    drifts = compare(
        _expected(),
        [_exchange("payment.events"), _exchange("fraud.events"), _exchange("payment.old")],
        [
            {"name": "payment.on_fraud", "arguments": dict(QUORUM)},
            {"name": "payment.on_legacy", "arguments": {}, "messages": 3},
            {"name": "inventory.on_payment", "arguments": {}},  # another service's: not ours to judge
        ],
        [
            _binding("fraud.events", "payment.on_fraud", "fraud.assessed"),
            _binding("fraud.events", "payment.on_fraud", "fraud.#"),
        ],
    )
    found = {(d.kind, d.entity, d.name) for d in drifts}
    assert found == {
        ("unexpected", "queue", "payment.on_legacy"),
        ("unexpected", "exchange", "payment.old"),
        ("unexpected", "binding", "fraud.events -> queue payment.on_fraud ('fraud.#')"),
    }
