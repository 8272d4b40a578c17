"""The committed contract artefacts under contracts/: check them against the code, or regenerate them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

from contract_tools.declarations import REPO
from shared.contracts import asyncapi, evolution
from shared.contracts.catalogue import Catalogue
from shared.contracts.expectations import load_expectations
from shared.contracts.routing import check_routing
from shared.contracts.verification import build_examples, verify_consumers, verify_examples

CONTRACTS = REPO / "contracts"
ASYNCAPI = CONTRACTS / "asyncapi.json"
SCHEMAS = CONTRACTS / "schemas"
EXPECTATIONS = CONTRACTS / "expectations"
UPDATE_HINT = "run `make contract-update` and commit contracts/"


def catalogue_version() -> str:
    """The AsyncAPI info.version: the shared package's version, which carries the contracts."""
    try:
        return package_version("warren-shared")
    except PackageNotFoundError:
        return "0.0.0"


def asyncapi_text(catalogue: Catalogue) -> str:
    """The AsyncAPI document the code declares, as committed text."""
    return asyncapi.render(asyncapi.build_document(catalogue, version=catalogue_version()))


def current_snapshots(catalogue: Catalogue) -> dict[str, evolution.Schema]:
    """The snapshot of every contract (by message type) and every task message (``task.<name>``) in the code."""
    snapshots = {model.message_type: evolution.snapshot(model) for model in catalogue.contracts}
    snapshots.update({task.key: evolution.task_snapshot(task) for task in catalogue.tasks()})
    return snapshots


def snapshot_texts(catalogue: Catalogue) -> dict[str, str]:
    """Every snapshot as committed text."""
    return {key: evolution.render(schema) for key, schema in current_snapshots(catalogue).items()}


def read_snapshots(directory: Path | None = None) -> dict[str, evolution.Schema]:
    """The committed snapshots, by message type (the file name without ``.json``)."""
    directory = directory or SCHEMAS
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


@dataclass
class Report:
    """Problems by section; empty sections pass."""

    sections: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(self.sections.values())

    def render(self) -> str:
        lines = []
        for name, problems in self.sections.items():
            lines.append(f"{'FAIL' if problems else 'ok  '} {name}")
            lines.extend(f"     - {problem}" for problem in problems)
        lines.extend(f"note {note}" for note in self.notes)
        return "\n".join(lines)


def evolution_changes(catalogue: Catalogue, today: date) -> list[evolution.Change]:
    """Every difference between the committed snapshots and the code, classified."""
    return evolution.check_evolution(read_snapshots(), current_snapshots(catalogue), today)


def check(catalogue: Catalogue, today: date) -> Report:
    """Everything ``make contract`` verifies, in one report."""
    report = Report()
    committed = ASYNCAPI.read_text() if ASYNCAPI.exists() else ""
    report.sections["asyncapi: contracts/asyncapi.json matches the code"] = (
        []
        if committed == asyncapi_text(catalogue)
        else [f"contracts/asyncapi.json is out of date: {UPDATE_HINT}"]
    )
    changes = evolution_changes(catalogue, today)
    report.sections["evolution: no breaking change within a version"] = [
        f"{change} -> declare a new version of the message type instead"
        for change in changes
        if change.breaking
    ]
    report.sections["versions: every superseded version has a deprecation window"] = evolution.check_versions(
        catalogue.contracts
    )
    report.sections["snapshots: contracts/schemas/ matches the code"] = [
        f"{change}: {UPDATE_HINT}" for change in changes if not change.breaking
    ]
    report.sections["routing: bindings and routing keys meet"] = check_routing(catalogue, today)
    examples, example_problems = build_examples(catalogue)
    report.sections["producers: real example messages validate"] = example_problems + verify_examples(
        catalogue, examples, today
    )
    report.sections["consumers: every expectation holds against its producer"] = verify_consumers(
        catalogue, load_expectations(EXPECTATIONS), examples
    )
    return report


def update(catalogue: Catalogue, today: date, accept_breaking: set[str]) -> list[str]:
    """Regenerate contracts/asyncapi.json and contracts/schemas/; refuse breaking changes not accepted.

    Returns the refusals (nothing was written when there are any).
    """
    refused = [
        f"{change} -> declare a new version, or pass --accept-breaking {change.message_type} if no "
        "consumer can hold the old shape (never released)"
        for change in evolution_changes(catalogue, today)
        if change.breaking and change.message_type not in accept_breaking
    ]
    if refused:
        return refused
    SCHEMAS.mkdir(parents=True, exist_ok=True)
    texts = snapshot_texts(catalogue)
    for path in SCHEMAS.glob("*.json"):
        if path.stem not in texts:
            path.unlink()
    for message_type, text in texts.items():
        path = SCHEMAS / f"{message_type}.json"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    ASYNCAPI.write_text(asyncapi_text(catalogue))
    return []
