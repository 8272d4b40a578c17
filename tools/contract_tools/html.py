"""A one-page HTML view of the AsyncAPI document: exchanges, routing keys, queues and every message's fields.

``make contract-html`` writes it to var/contracts/asyncapi.html. (AsyncAPI Studio renders the JSON too.)
"""

from __future__ import annotations

from html import escape
from typing import Any

Document = dict[str, Any]

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; }
h1 { margin-bottom: 0; } h2 { margin-top: 2.5rem; border-bottom: 2px solid #ddd; }
h3 { margin: 1.5rem 0 .3rem; font-family: ui-monospace, monospace; }
table { border-collapse: collapse; margin: .4rem 0 1rem; width: 100%; }
td, th { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } code { font-family: ui-monospace, monospace; }
.tag { display: inline-block; padding: 0 .4rem; border-radius: .3rem; background: #e8f0fe; margin-right: .3rem; }
.muted { color: #777; }
"""


def _resolve(document: Document, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _type_of(document: Document, schema: Any) -> str:
    schema = _resolve(document, schema)
    if not isinstance(schema, dict):
        return "any"
    if "enum" in schema:
        return " | ".join(repr(value) for value in schema["enum"])
    if "anyOf" in schema:
        return " | ".join(_type_of(document, option) for option in schema["anyOf"])
    kind = schema.get("type", "any")
    if kind == "array" and isinstance(schema.get("items"), dict):
        return f"array of {_type_of(document, schema['items'])}"
    if kind == "object" and "title" in schema and "properties" in schema:
        return f"object {schema['title']}"
    return str(kind)


def _fields(document: Document, schema: Any, prefix: str = "") -> list[tuple[str, str, bool]]:
    schema = _resolve(document, schema)
    rows: list[tuple[str, str, bool]] = []
    if not isinstance(schema, dict):
        return rows
    required = set(schema.get("required", ()))
    for name, field in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        rows.append((path, _type_of(document, field), name in required))
        inner = _resolve(document, field)
        if isinstance(inner, dict) and inner.get("type") == "array":
            inner = _resolve(document, inner.get("items", {}))
            path += "[]"
        if isinstance(inner, dict) and "properties" in inner:
            rows.extend(_fields(document, inner, f"{path}."))
    return rows


def _message(document: Document, key: str, message: Document) -> str:
    payload = _resolve(document, message["payload"])
    rows = "".join(
        f"<tr><td><code>{escape(path)}</code></td><td>{escape(kind)}</td><td>{'yes' if req else ''}</td></tr>"
        for path, kind, req in _fields(document, payload)
    )
    extras = []
    if "x-warren-deprecated-until" in message:
        extras.append(f"deprecated until {escape(message['x-warren-deprecated-until'])}")
    if "x-warren-intentionally-unconsumed" in message:
        extras.append(f"unconsumed on purpose: {escape(message['x-warren-intentionally-unconsumed'])}")
    table = (
        f"<table><tr><th>field</th><th>type</th><th>required</th></tr>{rows}</table>"
        if rows
        else "<p class=muted>Celery body [args, kwargs, embed]</p>"
    )
    return (
        f"<h3 id='{escape(key)}'>{escape(key)}</h3><p>{escape(message.get('summary', ''))} "
        f"<span class=muted>{'; '.join(extras)}</span></p>{table}"
    )


def render_html(document: Document) -> str:
    """The whole page, self-contained."""
    info = document["info"]
    parts = [
        f"<!doctype html><meta charset=utf-8><title>{escape(info['title'])}</title><style>{_STYLE}</style>",
        f"<h1>{escape(info['title'])} <small class=muted>{escape(info['version'])}</small></h1>",
        f"<p>{escape(info.get('description', ''))}</p><h2>Channels</h2><table>",
        "<tr><th>channel</th><th>where</th><th>messages</th><th>sent by</th><th>received by</th></tr>",
    ]
    senders: dict[str, list[str]] = {}
    receivers: dict[str, list[str]] = {}
    for operation in document["operations"].values():
        channel = operation["channel"]["$ref"].rsplit("/", 1)[1]
        book = senders if operation["action"] == "send" else receivers
        book.setdefault(channel, []).append(operation.get("x-warren-service", ""))
    for channel_id, channel in document["channels"].items():
        messages = ", ".join(
            f"<a href='#{escape(ref['$ref'].rsplit('/', 1)[1])}'>{escape(ref['$ref'].rsplit('/', 1)[1])}</a>"
            for ref in channel["messages"].values()
        )
        consumers = channel.get("x-warren-consumers")
        received = ", ".join(consumers) if consumers is not None else ", ".join(receivers.get(channel_id, []))
        parts.append(
            f"<tr><td><code>{escape(channel['address'])}</code></td><td>{escape(channel.get('title', ''))}</td>"
            f"<td>{messages}</td><td>{escape(', '.join(senders.get(channel_id, [])))}</td>"
            f"<td>{escape(received)}</td></tr>"
        )
    parts.append("</table><h2>Messages</h2>")
    for key, message in document["components"]["messages"].items():
        parts.append(_message(document, key, message))
    return "".join(parts) + "\n"
