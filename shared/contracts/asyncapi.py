"""Build the suite's AsyncAPI 3.0 document from a :class:`~shared.contracts.catalogue.Catalogue`.

Channels: one per routing key on its producer's topic exchange (what producers send to) and one per handler
queue (what consumers receive from, with the exchange bindings that fill it). Operations say which service
sends and which receives; messages carry the contract's JSON Schema (pydantic) and the envelope's metadata.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from pydantic.json_schema import models_json_schema

from shared.contracts.asyncapi_amqp import (
    AMQP_BINDING_VERSION,
    component_message,
    exchange_binding,
    message_ref,
    queue_binding,
)
from shared.contracts.asyncapi_tasks import add_tasks
from shared.contracts.base import Command, Contract
from shared.contracts.catalogue import Catalogue, Handler
from shared.messaging.envelope import CONTENT_TYPE

ASYNCAPI_VERSION = "3.0.0"
_SCHEMA_REF = "#/components/schemas/{model}"

Document = dict[str, Any]


def build_document(catalogue: Catalogue, *, version: str, vhost: str = "warren") -> Document:
    """The AsyncAPI document describing every exchange, queue, message and who sends and receives it."""
    schemas, payload_refs = _schemas(catalogue.contracts)
    document: Document = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Warren message catalogue",
            "version": version,
            "description": (
                "Every message the Warren services exchange over RabbitMQ, generated from the code's own "
                "declarations (shared/contracts and each service's entrypoints/topology.py) by "
                "`make contract-update`. Message types carry their version (payment.captured.v1); the routing "
                "key is the type without it. Metadata travels in AMQP properties (message_id, type, "
                "correlation_id, app_id = producer, timestamp) and headers (causation_id, occurred_at, "
                "traceparent); the body is the contract's JSON payload."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "127.0.0.1:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "pathname": f"/{vhost}",
                "description": f"The local RabbitMQ of `make run` (vhost {vhost}).",
            }
        },
        "channels": {},
        "operations": {},
        "components": {
            "schemas": {**schemas, "EnvelopeHeaders": _ENVELOPE_HEADERS},
            "messages": {
                model.message_type: _message(model, payload_refs[model]) for model in catalogue.contracts
            },
            "correlationIds": {
                "correlation": {
                    "description": (
                        "The AMQP correlation_id message property (runtime expressions call AMQP properties "
                        "headers): shared by every message of one checkout."
                    ),
                    "location": "$message.header#/correlation_id",
                }
            },
        },
    }
    _add_routing_key_channels(document, catalogue, vhost)
    _add_queue_channels(document, catalogue, vhost)
    add_tasks(document, catalogue.tasks(), vhost)
    return document


def render(document: Document) -> str:
    """Stable JSON text of the document (what is committed as contracts/asyncapi.json)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


_ENVELOPE_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "AMQP headers of every Warren message (the other metadata rides in AMQP properties).",
    "properties": {
        "occurred_at": {
            "type": "string",
            "format": "date-time",
            "description": "When the fact happened (UTC).",
        },
        "causation_id": {"type": "string", "description": "message_id of the message that caused this one."},
        "traceparent": {"type": "string", "description": "W3C trace context of the producing span."},
    },
    "required": ["occurred_at"],
}


def _schemas(contracts: tuple[type[Contract], ...]) -> tuple[dict[str, Any], dict[type[Contract], str]]:
    keys, definitions = models_json_schema(
        [(model, "validation") for model in contracts], ref_template=_SCHEMA_REF
    )
    refs = {model: keys[(model, "validation")]["$ref"] for model in contracts}
    return dict(sorted(definitions.get("$defs", {}).items())), refs


def _message(model: type[Contract], payload_ref: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": model.message_type,
        "title": model.__name__,
        "summary": _summary(model),
        "contentType": CONTENT_TYPE,
        "headers": {"$ref": "#/components/schemas/EnvelopeHeaders"},
        "payload": {"$ref": payload_ref},
        "correlationId": {"$ref": "#/components/correlationIds/correlation"},
        "tags": [{"name": model.producer}],
        "bindings": {"amqp": {"messageType": model.message_type, "bindingVersion": AMQP_BINDING_VERSION}},
        "x-warren-producer": model.producer,
        "x-warren-kind": "command" if _is_command(model) else "event",
    }
    if model.deprecated_until is not None:
        message["x-warren-deprecated-until"] = model.deprecated_until.isoformat()
    if model.intentionally_unconsumed is not None:
        message["x-warren-intentionally-unconsumed"] = model.intentionally_unconsumed
    return message


def _is_command(model: type[Contract]) -> bool:
    return issubclass(model, Command)


def _summary(model: type[Contract]) -> str:
    doc = (model.__doc__ or "").strip()
    inherited = next((base.__doc__ for base in model.__mro__[1:] if base.__doc__), None)
    if not doc or doc == (inherited or "").strip():
        return f"{model.message_type}, published by {model.producer} on {model.exchange()}."
    return " ".join(doc.split("\n\n")[0].split())


def _add_routing_key_channels(document: Document, catalogue: Catalogue, vhost: str) -> None:
    by_key: dict[tuple[str, str], list[type[Contract]]] = defaultdict(list)
    for model in catalogue.contracts:
        by_key[(model.exchange(), model.routing_key())].append(model)
    for (exchange, key), models in sorted(by_key.items()):
        producer = models[0].producer
        receivers = catalogue.handlers_receiving(models[0])
        channel_id = key
        consumed_by = ", ".join(handler.name for handler in receivers) or (
            f"nobody (intentionally: {models[0].intentionally_unconsumed})"
            if models[0].intentionally_unconsumed
            else "nobody"
        )
        document["channels"][channel_id] = {
            "address": key,
            "title": f"{exchange} / {key}",
            "description": f"Routing key {key} on the topic exchange {exchange}. Consumed by: {consumed_by}.",
            "messages": {model.message_type: component_message(model.message_type) for model in models},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": exchange_binding(exchange, vhost),
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
            "x-warren-exchange": exchange,
            "x-warren-consumers": [handler.name for handler in receivers],
        }
        document["operations"][f"{producer}.send.{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "title": f"{producer} publishes {key}",
            "summary": f"{producer} publishes {', '.join(m.message_type for m in models)} through its outbox.",
            "tags": [{"name": producer}],
            "messages": [message_ref(channel_id, model.message_type) for model in models],
            "bindings": {
                "amqp": {"deliveryMode": 2, "mandatory": True, "bindingVersion": AMQP_BINDING_VERSION}
            },
            "x-warren-service": producer,
        }


def _add_queue_channels(document: Document, catalogue: Catalogue, vhost: str) -> None:
    for handler in catalogue.handlers():
        channel_id = f"queue.{handler.name}"  # a namespace of its own: a queue may share a routing key's name
        document["channels"][channel_id] = {
            "address": handler.name,
            "title": f"queue {handler.name}",
            "description": _queue_description(handler),
            "messages": {
                model.message_type: component_message(model.message_type)
                for model in sorted(handler.accepts, key=lambda m: m.message_type)
            },
            "bindings": {"amqp": queue_binding(handler.name, vhost)},
            "x-warren-bindings": [
                {"exchange": binding.exchange, "pattern": binding.pattern} for binding in handler.bindings
            ],
            "x-warren-queue-type": str(handler.queue.queue_type),
            "x-warren-dead-letter-queue": handler.queue.dlq_name,
            "x-warren-retry-queues": list(handler.queue.retry_queue_names),
        }
        document["operations"][f"{handler.name}.receive"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "title": f"{handler.service} handles {handler.name}",
            "summary": f"{handler.service}'s handler {handler.queue.handler} consumes with manual acks.",
            "tags": [{"name": handler.service}],
            "messages": [
                message_ref(channel_id, model.message_type)
                for model in sorted(handler.accepts, key=lambda m: m.message_type)
            ],
            "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}},
            "x-warren-service": handler.service,
        }


def _queue_description(handler: Handler) -> str:
    bound = "; ".join(f"{binding.exchange} with {binding.pattern!r}" for binding in handler.bindings)
    return (
        f"Queue of {handler.service}'s handler {handler.queue.handler}, bound to {bound}. Failed messages go "
        f"through retry tiers to {handler.queue.dlq_name}."
    )
