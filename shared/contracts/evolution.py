"""Schema evolution rules, checked against the committed snapshots in ``contracts/schemas/<type>.json``.

Within one version (``payment.captured.v1``) only compatible changes are allowed: adding an optional field,
or changing annotations (titles, descriptions, defaults). Removing, renaming or retyping a field, making a
field required (or optional: consumers relied on it), adding a required field, changing an enum's values or a
constraint (pattern, bounds) are breaking: they need a new version (``payment.captured.v2``), while the old
version stays registered with ``deprecated_until`` so consumers keep accepting it for the window.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.contracts.base import Contract
from shared.contracts.catalogue import TaskRoute

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Keys that document a schema without changing what validates; changing them is never breaking.
_ANNOTATIONS = frozenset({"title", "description", "examples", "default", "$comment", "deprecated"})
_DEPRECATED_UNTIL = "x-warren-deprecated-until"
_POSITIONAL = "x-warren-positional"

Schema = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """One difference between a snapshot and the current model."""

    message_type: str
    path: str
    detail: str
    breaking: bool

    def __str__(self) -> str:
        kind = "BREAKING" if self.breaking else "compatible"
        where = f" field {self.path!r}" if self.path else ""
        return f"{kind}: {self.message_type}{where}: {self.detail}"


def snapshot(model: type[Contract]) -> Schema:
    """The JSON Schema snapshot of ``model`` as committed under ``contracts/schemas/``."""
    schema: Schema = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:warren:contract:{model.message_type}",
        "x-warren-message-type": model.message_type,
        "x-warren-producer": model.producer,
    }
    if model.deprecated_until is not None:
        schema[_DEPRECATED_UNTIL] = model.deprecated_until.isoformat()
    schema.update(model.model_json_schema(mode="validation"))
    return schema


def task_snapshot(task: TaskRoute) -> Schema:
    """The snapshot of a Celery task's arguments: an object of its parameters, plus their positional order."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:warren:{task.key}",
        "title": task.name,
        "type": "object",
        "properties": {parameter.name: dict(parameter.schema) for parameter in task.parameters},
        "required": [parameter.name for parameter in task.parameters if parameter.required],
        _POSITIONAL: [parameter.name for parameter in task.parameters],
        "x-warren-service": task.service,
    }


def render(schema: Schema) -> str:
    """Stable text of a snapshot (sorted keys, trailing newline) so regenerating is a no-op diff."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def compare(message_type: str, old: Schema, new: Schema) -> list[Change]:
    """Every change from ``old`` to ``new`` (two snapshots of one message type), classified."""
    changes: list[Change] = []
    _compare_node(message_type, "", old, new, old, new, changes)
    old_order, new_order = old.get(_POSITIONAL), new.get(_POSITIONAL)
    if old_order is not None and new_order is not None:
        kept = [name for name in new_order if name in old_order]
        if kept != [name for name in old_order if name in new_order] or new_order[: len(kept)] != kept:
            detail = f"positional arguments reordered from {old_order} to {new_order}"
            changes.append(Change(message_type, "", detail, breaking=True))
    return changes


def check_evolution(
    snapshots: Mapping[str, Schema], current: Mapping[str, Schema], today: date
) -> list[Change]:
    """Compare the code's snapshots with the committed ones; new types are compatible, vanished ones need a
    closed deprecation window."""
    changes: list[Change] = []
    for message_type, schema in sorted(current.items()):
        old = snapshots.get(message_type)
        if old is None:
            changes.append(Change(message_type, "", "new message type (no snapshot yet)", breaking=False))
            continue
        changes.extend(compare(message_type, old, schema))
    for message_type in sorted(set(snapshots) - set(current)):
        until = snapshots[message_type].get(_DEPRECATED_UNTIL)
        if until is not None and today > date.fromisoformat(until):
            detail = f"removed after its deprecation window ({until})"
            changes.append(Change(message_type, "", detail, breaking=False))
        else:
            window = f"its window runs until {until}" if until else "it was never deprecated"
            detail = f"message type removed while consumers may still receive it ({window})"
            changes.append(Change(message_type, "", detail, breaking=True))
    return changes


def check_versions(contracts: Iterable[type[Contract]]) -> list[str]:
    """Every superseded version (a higher version of its fact exists) must say how long consumers accept it."""
    by_fact: dict[str, list[type[Contract]]] = {}
    for model in contracts:
        by_fact.setdefault(model.routing_key(), []).append(model)
    problems = []
    for fact, models in sorted(by_fact.items()):
        latest = max(model.version() for model in models)
        for model in sorted(models, key=lambda m: m.version()):
            if model.version() < latest and model.deprecated_until is None:
                problems.append(
                    f"{model.message_type} is superseded by {fact}.v{latest} but sets no deprecated_until: "
                    "declare the window during which consumers keep accepting it"
                )
    return problems


def _resolve(node: Schema, root: Schema) -> Schema:
    # Follows local refs (#/$defs/Name) until a concrete schema; pydantic emits nothing else.
    seen: set[str] = set()
    while "$ref" in node:
        ref = node["$ref"]
        if ref in seen or not ref.startswith("#/"):
            raise ValueError(f"cannot resolve {ref!r}")
        seen.add(ref)
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _normalise(node: Any, root: Schema) -> Any:
    """The validating content of a schema: refs inlined, annotations dropped."""
    if isinstance(node, dict):
        node = _resolve(node, root)
        return {
            key: _normalise(value, root)
            for key, value in node.items()
            if key not in _ANNOTATIONS and key != "$defs" and not key.startswith("x-")
        }
    if isinstance(node, list):
        return [_normalise(item, root) for item in node]
    return node


def _nullable(node: Schema) -> bool:
    options = node.get("anyOf", [])
    return node.get("type") == "null" or any(option.get("type") == "null" for option in options)


def _describe(node: Any) -> str:
    return json.dumps(node, sort_keys=True, separators=(",", ":"))


def _compare_node(
    message_type: str,
    path: str,
    old: Schema,
    new: Schema,
    old_root: Schema,
    new_root: Schema,
    out: list[Change],
) -> None:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    if "properties" in old and "properties" in new:
        _compare_object(message_type, path, old, new, old_root, new_root, out)
        return
    if "items" in old and "items" in new and old.get("type") == new.get("type") == "array":
        rest_old = {k: v for k, v in old.items() if k != "items"}
        rest_new = {k: v for k, v in new.items() if k != "items"}
        _compare_leaf(message_type, path, rest_old, rest_new, old_root, new_root, out)
        _compare_node(message_type, f"{path}[]", old["items"], new["items"], old_root, new_root, out)
        return
    old_options, new_options = old.get("anyOf"), new.get("anyOf")
    if (
        isinstance(old_options, list)
        and isinstance(new_options, list)
        and len(old_options) == len(new_options)
    ):
        for old_option, new_option in zip(old_options, new_options, strict=True):
            _compare_node(message_type, path, old_option, new_option, old_root, new_root, out)
        rest_old = {k: v for k, v in old.items() if k != "anyOf"}
        rest_new = {k: v for k, v in new.items() if k != "anyOf"}
        _compare_leaf(message_type, path, rest_old, rest_new, old_root, new_root, out)
        return
    _compare_leaf(message_type, path, old, new, old_root, new_root, out)


def _compare_object(
    message_type: str,
    path: str,
    old: Schema,
    new: Schema,
    old_root: Schema,
    new_root: Schema,
    out: list[Change],
) -> None:
    prefix = f"{path}." if path else ""
    old_fields, new_fields = old["properties"], new["properties"]
    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    added = [name for name in new_fields if name not in old_fields]
    for name in old_fields:
        if name in new_fields:
            continue
        same_shape = [
            other
            for other in added
            if _normalise(new_fields[other], new_root) == _normalise(old_fields[name], old_root)
        ]
        hint = f" (renamed to {same_shape[0]!r}?)" if same_shape else ""
        out.append(Change(message_type, prefix + name, f"field removed{hint}", breaking=True))
    for name in added:
        if name in new_required:
            out.append(Change(message_type, prefix + name, "required field added", breaking=True))
        else:
            out.append(Change(message_type, prefix + name, "optional field added", breaking=False))
    for name in old_fields:
        if name not in new_fields:
            continue
        field_path = prefix + name
        if name in old_required and name not in new_required:
            out.append(Change(message_type, field_path, "required field made optional", breaking=True))
        if name not in old_required and name in new_required:
            out.append(Change(message_type, field_path, "optional field made required", breaking=True))
        _compare_node(message_type, field_path, old_fields[name], new_fields[name], old_root, new_root, out)
    rest_old = {k: v for k, v in old.items() if k not in ("properties", "required", "$defs")}
    rest_new = {k: v for k, v in new.items() if k not in ("properties", "required", "$defs")}
    _compare_leaf(message_type, path, rest_old, rest_new, old_root, new_root, out)


def _compare_leaf(
    message_type: str,
    path: str,
    old: Schema,
    new: Schema,
    old_root: Schema,
    new_root: Schema,
    out: list[Change],
) -> None:
    old_norm, new_norm = _normalise(old, old_root), _normalise(new, new_root)
    if old_norm == new_norm:
        return
    if "enum" in old_norm and "enum" in new_norm:
        gone = [value for value in old_norm["enum"] if value not in new_norm["enum"]]
        came = [value for value in new_norm["enum"] if value not in old_norm["enum"]]
        detail = (
            "allowed values changed"
            + (f"; removed {gone}" if gone else "")
            + (f"; added {came}" if came else "")
        )
        out.append(Change(message_type, path, detail, breaking=True))
        return
    if old_norm.get("type") != new_norm.get("type") or _nullable(old_norm) != _nullable(new_norm):
        detail = f"retyped from {_describe(old_norm)} to {_describe(new_norm)}"
    else:
        detail = f"constraints changed from {_describe(old_norm)} to {_describe(new_norm)}"
    out.append(Change(message_type, path, detail, breaking=True))
