"""Consumer-driven contracts: what each consumer relies on, verified against every producer.

Each consumer commits ``contracts/expectations/<consumer>.json``: for every message type it handles, the
fields it reads (``items[].sku`` reads ``sku`` of every element of ``items``), their JSON type, whether it
copes with their absence (``optional``) and, where it branches on a value, the values it understands.
A producer is verified twice against every expectation: its schema (the contract model), and the payloads
its real code builds (the service's example builders, sent through :func:`~shared.contracts.envelope_for`).
Every failure names the consumer, the message type and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JsonType = Literal["string", "integer", "number", "boolean", "array", "object"]


class FieldExpectation(BaseModel):
    """What a consumer relies on about one field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: JsonType
    optional: bool = False  # the consumer copes with the field being absent or null
    values: tuple[str | int, ...] | None = None  # the only values the consumer understands


class MessageExpectation(BaseModel):
    """The fields one consumer reads from one message type."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    handlers: tuple[str, ...] = ()  # the consumer's handlers that read it (documentation, cross-checked)
    fields: dict[str, FieldExpectation] = Field(default_factory=dict)


class ConsumerExpectations(BaseModel):
    """One consumer's expectations file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    consumer: str
    description: str = ""
    messages: dict[str, MessageExpectation]


def load_expectations(directory: Path) -> dict[str, ConsumerExpectations]:
    """Every ``<consumer>.json`` in ``directory``, by consumer; the file name must match its ``consumer``."""
    found: dict[str, ConsumerExpectations] = {}
    for path in sorted(directory.glob("*.json")):
        expectations = ConsumerExpectations.model_validate_json(path.read_text())
        if expectations.consumer != path.stem:
            raise ValueError(f"{path}: declares consumer {expectations.consumer!r}, expected {path.stem!r}")
        found[expectations.consumer] = expectations
    return found


def _problem(consumer: str, message_type: str, field: str, detail: str) -> str:
    return f"consumer {consumer!r} relies on {message_type} field {field!r}: {detail}"


# ---- against the producer's schema ------------------------------------------------------------------------


def verify_schema(
    consumer: str, message_type: str, expectation: MessageExpectation, schema: Mapping[str, Any]
) -> list[str]:
    """Problems with ``schema`` (the producer's JSON Schema of ``message_type``) for this consumer."""
    problems: list[str] = []
    for path, wanted in expectation.fields.items():
        detail = _schema_problem(path, wanted, schema)
        if detail is not None:
            problems.append(_problem(consumer, message_type, path, detail))
    return problems


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        target: Any = root
        for part in str(node["$ref"])[2:].split("/"):
            target = target[part]
        node = target
    return node


def _without_null(node: Mapping[str, Any], root: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """The non-null alternative of ``X | None`` and whether null was allowed."""
    node = _resolve(node, root)
    options = node.get("anyOf")
    if isinstance(options, list):
        concrete = [_resolve(option, root) for option in options if option.get("type") != "null"]
        nullable = len(concrete) < len(options)
        if len(concrete) == 1:
            return concrete[0], nullable
        return {"anyOf": concrete}, nullable
    return node, node.get("type") == "null"


def _types_of(node: Mapping[str, Any], root: Mapping[str, Any]) -> set[str]:
    node = _resolve(node, root)
    if "anyOf" in node:
        return set().union(*(_types_of(option, root) for option in node["anyOf"]))
    declared = node.get("type")
    if isinstance(declared, list):
        return set(declared)
    if isinstance(declared, str):
        return {declared}
    if "enum" in node or "const" in node:
        values = node.get("enum", [node.get("const")])
        return {_json_type(value) for value in values}
    return {"any"}


def _enum_of(node: Mapping[str, Any], root: Mapping[str, Any]) -> list[Any] | None:
    node = _resolve(node, root)
    if "enum" in node:
        return list(node["enum"])
    if "const" in node:
        return [node["const"]]
    if "anyOf" in node:
        collected: list[Any] = []
        for option in node["anyOf"]:
            values = _enum_of(option, root)
            if values is None:
                return None
            collected.extend(values)
        return collected
    return None


def _type_fits(wanted: str, offered: set[str]) -> bool:
    if "any" in offered:
        return False  # an untyped field guarantees nothing
    if wanted == "number":
        return offered <= {"number", "integer"}
    return offered == {wanted}


def _schema_problem(path: str, wanted: FieldExpectation, root: Mapping[str, Any]) -> str | None:
    node: Mapping[str, Any] = root
    may_be_absent = False
    walked: list[str] = []
    for segment in path.split("."):
        is_array = segment.endswith("[]")
        name = segment[:-2] if is_array else segment
        node, _ = _without_null(node, root)
        properties = node.get("properties")
        if not isinstance(properties, Mapping) or name not in properties:
            where = ".".join(walked) or "the message"
            return f"the producer's schema has no field {name!r} in {where}"
        if name not in node.get("required", ()):
            may_be_absent = True
        node, nullable = _without_null(properties[name], root)
        may_be_absent = may_be_absent or nullable
        walked.append(segment)
        if is_array:
            if _types_of(node, root) != {"array"}:
                return f"the producer's schema makes {name!r} {sorted(_types_of(node, root))}, not an array"
            node, nullable = _without_null(node.get("items", {}), root)
            may_be_absent = may_be_absent or nullable
    if may_be_absent and not wanted.optional:
        return "the producer may omit it or send null (optional in its schema), but the consumer requires it"
    offered = _types_of(node, root) - {"null"}
    if not _type_fits(wanted.type, offered):
        return f"expected type {wanted.type}, the producer's schema says {sorted(offered)}"
    if wanted.values is not None:
        values = _enum_of(node, root)
        if values is None:
            return f"the consumer understands only {list(wanted.values)}, but the producer does not restrict values"
        unknown = [value for value in values if value not in wanted.values and value is not None]
        if unknown:
            return f"the producer may send {unknown}, which the consumer does not understand"
    return None


# ---- against the producer's real payloads -----------------------------------------------------------------


def verify_payload(
    consumer: str, message_type: str, expectation: MessageExpectation, payload: Mapping[str, Any]
) -> list[str]:
    """Problems with one payload the producer's code built, for this consumer."""
    problems: list[str] = []
    for path, wanted in expectation.fields.items():
        for detail in _payload_problems(path.split("."), wanted, payload):
            problems.append(_problem(consumer, message_type, path, detail))
    return problems


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _payload_problems(segments: list[str], wanted: FieldExpectation, node: Any) -> Iterable[str]:
    segment, rest = segments[0], segments[1:]
    is_array = segment.endswith("[]")
    name = segment[:-2] if is_array else segment
    value = node.get(name) if isinstance(node, Mapping) else None
    if value is None:
        if not wanted.optional:
            yield f"missing or null in a payload the producer built: {dict(node) if isinstance(node, Mapping) else node}"
        return
    if is_array:
        if not isinstance(value, list):
            yield f"{name!r} is {_json_type(value)}, not an array, in a payload the producer built"
            return
        for element in value:
            if rest:
                yield from _payload_problems(rest, wanted, element)
            else:
                yield from _value_problems(wanted, element)
        return
    if rest:
        yield from _payload_problems(rest, wanted, value)
    else:
        yield from _value_problems(wanted, value)


def _value_problems(wanted: FieldExpectation, value: Any) -> Iterable[str]:
    actual = _json_type(value)
    if value is None:
        if not wanted.optional:
            yield "null in a payload the producer built"
        return
    if not (actual == wanted.type or (wanted.type == "number" and actual == "integer")):
        yield f"expected type {wanted.type}, the producer built {actual} ({value!r})"
    elif wanted.values is not None and value not in wanted.values:
        yield f"the producer built {value!r}, which the consumer does not understand ({list(wanted.values)})"
