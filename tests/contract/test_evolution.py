import json
from datetime import date
from enum import StrEnum
from pathlib import Path

import pytest
from contract_tools import artefacts
from contract_tools.declarations import Loaded

from shared.contracts.base import Event
from shared.contracts.evolution import Change, check_evolution, check_versions, compare, snapshot


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class Decision3(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    ESCALATED = "escalated"


class Line(Event, register=False):
    sku: str
    quantity: int


class LineWithoutQuantity(Event, register=False):
    sku: str
    count: int


class Sample(Event, register=False):
    producer = "payment"
    message_type = "payment.sample.v1"

    payment_id: str
    amount: int
    decision: Decision
    items: tuple[Line, ...]
    note: str | None = None


def changes(new: type[Event], old: type[Event] = Sample) -> list[Change]:
    return compare("payment.sample.v1", snapshot(old), snapshot(new))


def breaking(new: type[Event]) -> list[str]:
    return [f"{change.path}: {change.detail}" for change in changes(new) if change.breaking]


def test_no_change_is_reported_when_only_annotations_change() -> None:
    class Documented(Sample, register=False):
        """Now with a docstring and a different default."""

        note: str | None = "n/a"

    assert changes(Documented) == []


def test_adding_an_optional_field_is_compatible_when_it_has_a_default() -> None:
    class WithOptional(Sample, register=False):
        channel: str = "web"

    assert changes(WithOptional) == [
        Change("payment.sample.v1", "channel", "optional field added", breaking=False)
    ]


def test_adding_a_required_field_is_breaking_when_old_messages_lack_it() -> None:
    class WithRequired(Sample, register=False):
        channel: str

    assert breaking(WithRequired) == ["channel: required field added"]


def test_removing_a_field_is_breaking_when_a_consumer_may_read_it() -> None:
    class WithoutNote(Event, register=False):
        producer = "payment"
        message_type = "payment.sample.v1"

        payment_id: str
        amount: int
        decision: Decision
        items: tuple[Line, ...]

    assert breaking(WithoutNote) == ["note: field removed"]


def test_renaming_a_field_is_breaking_and_hinted_when_a_same_shaped_field_appears() -> None:
    class Renamed(Event, register=False):
        producer = "payment"
        message_type = "payment.sample.v1"

        payment_id: str
        amount_minor: int
        decision: Decision
        items: tuple[Line, ...]
        note: str | None = None

    assert breaking(Renamed) == [
        "amount: field removed (renamed to 'amount_minor'?)",
        "amount_minor: required field added",
    ]


def test_retyping_a_field_is_breaking_when_its_json_type_changes() -> None:
    class Retyped(Sample, register=False):
        amount: str  # type: ignore[assignment]

    assert breaking(Retyped) == ['amount: retyped from {"type":"integer"} to {"type":"string"}']


def test_making_a_field_required_is_breaking_when_it_was_optional() -> None:
    class Required(Sample, register=False):
        note: str  # type: ignore[assignment]

    assert "note: optional field made required" in breaking(Required)


def test_making_a_field_optional_is_breaking_when_consumers_relied_on_it() -> None:
    class Optional(Sample, register=False):
        amount: int | None = None  # type: ignore[assignment]

    problems = breaking(Optional)
    assert "amount: required field made optional" in problems
    assert any(problem.startswith("amount: retyped") for problem in problems)


def test_changing_enum_values_is_breaking_when_a_value_is_added() -> None:
    class MoreDecisions(Sample, register=False):
        decision: Decision3  # type: ignore[assignment]

    assert breaking(MoreDecisions) == ["decision: allowed values changed; added ['escalated']"]


def test_a_nested_field_change_is_breaking_when_it_is_inside_an_array_of_objects() -> None:
    class NestedRename(Sample, register=False):
        items: tuple[LineWithoutQuantity, ...]  # type: ignore[assignment]

    assert breaking(NestedRename) == [
        "items[].quantity: field removed (renamed to 'count'?)",
        "items[].count: required field added",
    ]


def test_a_constraint_change_is_breaking_when_bounds_change() -> None:
    from typing import Annotated

    from pydantic import Field

    class Bounded(Sample, register=False):
        amount: Annotated[int, Field(ge=0)]

    assert breaking(Bounded) == [
        'amount: constraints changed from {"type":"integer"} to {"minimum":0,"type":"integer"}'
    ]


def test_a_new_message_type_is_compatible_when_it_has_no_snapshot() -> None:
    reported = check_evolution({}, {"payment.sample.v1": snapshot(Sample)}, date(2026, 1, 1))

    assert reported == [Change("payment.sample.v1", "", "new message type (no snapshot yet)", breaking=False)]


def test_removing_a_message_type_is_breaking_when_its_window_is_still_open() -> None:
    class Old(Sample, register=False):
        deprecated_until = date(2026, 3, 1)

    snapshots = {"payment.sample.v1": snapshot(Old)}

    (inside,) = check_evolution(snapshots, {}, date(2026, 3, 1))
    (after,) = check_evolution(snapshots, {}, date(2026, 3, 2))
    (never,) = check_evolution({"payment.sample.v1": snapshot(Sample)}, {}, date(2030, 1, 1))

    assert inside.breaking
    assert "window runs until 2026-03-01" in inside.detail
    assert not after.breaking
    assert never.breaking
    assert "never deprecated" in never.detail


def test_committed_snapshots_match_the_code_when_the_contracts_are_unchanged(
    loaded: Loaded, today: date
) -> None:
    assert [str(change) for change in artefacts.evolution_changes(loaded.catalogue, today)] == []


def test_update_refuses_and_writes_nothing_when_a_change_is_breaking(
    loaded: Loaded, today: date, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    for path in artefacts.SCHEMAS.glob("*.json"):
        (schemas / path.name).write_text(path.read_text())
    # The committed snapshot knew a field the code no longer has: the code "removed" it.
    old = json.loads((schemas / "payment.captured.v1.json").read_text())
    old["properties"]["legacy_ref"] = {"type": "string"}
    (schemas / "payment.captured.v1.json").write_text(json.dumps(old))
    monkeypatch.setattr(artefacts, "SCHEMAS", schemas)
    monkeypatch.setattr(artefacts, "ASYNCAPI", tmp_path / "asyncapi.json")

    refused = artefacts.update(loaded.catalogue, today, accept_breaking=set())

    assert refused == [
        "BREAKING: payment.captured.v1 field 'legacy_ref': field removed -> declare a new version, or pass "
        "--accept-breaking payment.captured.v1 if no consumer can hold the old shape (never released)"
    ]
    assert not (tmp_path / "asyncapi.json").exists()
    assert "legacy_ref" in (schemas / "payment.captured.v1.json").read_text()

    assert artefacts.update(loaded.catalogue, today, accept_breaking={"payment.captured.v1"}) == []
    assert "legacy_ref" not in (schemas / "payment.captured.v1.json").read_text()
    assert (tmp_path / "asyncapi.json").exists()


class SampleV2(Sample, register=False):
    message_type = "payment.sample.v2"

    channel: str


def test_a_superseded_version_fails_when_it_declares_no_deprecation_window() -> None:
    assert check_versions([Sample, SampleV2]) == [
        "payment.sample.v1 is superseded by payment.sample.v2 but sets no deprecated_until: declare the window "
        "during which consumers keep accepting it"
    ]


def test_a_superseded_version_passes_when_it_declares_its_window() -> None:
    class Old(Sample, register=False):
        deprecated_until = date(2026, 3, 1)

    assert check_versions([Old, SampleV2]) == []
