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

from shared.contracts.base import Command, Contract
from shared.contracts.catalogue import Catalogue, Handler, TaskRoute
from shared.messaging.envelope import CONTENT_TYPE

ASYNCAPI_VERSION = "3.0.0"
AMQP_BINDING_VERSION = "0.3.0"
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
    _add_tasks(document, catalogue, vhost)
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


def _exchange_binding(exchange: str, vhost: str) -> dict[str, Any]:
    return {
        "name": exchange,
        "type": "topic",
        "durable": True,
        "autoDelete": False,
        "vhost": f"/{vhost}" if not vhost.startswith("/") else vhost,
    }


def _message_ref(channel: str, message_type: str) -> dict[str, str]:
    return {"$ref": f"#/channels/{channel}/messages/{message_type}"}


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
            "messages": {
                model.message_type: {"$ref": f"#/components/messages/{model.message_type}"}
                for model in models
            },
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": _exchange_binding(exchange, vhost),
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
            "messages": [_message_ref(channel_id, model.message_type) for model in models],
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
                model.message_type: {"$ref": f"#/components/messages/{model.message_type}"}
                for model in sorted(handler.accepts, key=lambda m: m.message_type)
            },
            "bindings": {
                "amqp": {
                    "is": "queue",
                    "queue": {
                        "name": handler.name,
                        "durable": True,
                        "exclusive": False,
                        "autoDelete": False,
                        "vhost": f"/{vhost}",
                    },
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
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
                _message_ref(channel_id, model.message_type)
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


def _task_message(task: TaskRoute) -> dict[str, Any]:
    required = sum(1 for parameter in task.parameters if parameter.required)
    args: dict[str, Any] = {
        "type": "array",
        "description": "Positional arguments: " + (", ".join(p.name for p in task.parameters) or "none"),
        "minItems": required,
        "maxItems": len(task.parameters),
    }
    if task.parameters:  # a tuple schema may not be empty
        args["items"] = [{"title": p.name, **p.schema} for p in task.parameters]
    return {
        "name": task.name,
        "title": task.name,
        "summary": task.summary or f"Celery task {task.name} of {task.service}, run by its workers.",
        "contentType": CONTENT_TYPE,
        "headers": {
            "type": "object",
            "description": "Celery message protocol 2 headers (the subset Warren relies on).",
            "properties": {
                "task": {"type": "string", "const": task.name},
                "id": {"type": "string", "description": "Task id; deliveries are idempotent on it."},
                "retries": {"type": "integer", "minimum": 0},
                "eta": {"type": ["string", "null"], "format": "date-time"},
            },
            "required": ["task", "id"],
        },
        "payload": {
            "type": "array",
            "description": "Celery message protocol 2 body: [args, kwargs, embed].",
            "items": [args, {"type": "object"}, {"type": "object"}],
            "minItems": 3,
            "maxItems": 3,
        },
        "tags": [{"name": task.service}],
        "x-warren-producer": task.service,
        "x-warren-kind": "task",
    }


def _add_tasks(document: Document, catalogue: Catalogue, vhost: str) -> None:
    tasks = catalogue.tasks()
    for task in tasks:
        document["components"]["messages"][task.key] = _task_message(task)
    by_key: dict[tuple[str, str], list[TaskRoute]] = defaultdict(list)
    by_queue: dict[str, list[TaskRoute]] = defaultdict(list)
    for task in tasks:
        by_key[(task.exchange, task.routing_key)].append(task)
        by_queue[task.queue].append(task)
    for (exchange, key), routed in sorted(by_key.items()):
        channel_id = f"tasks.{key}"
        document["channels"][channel_id] = {
            "address": key,
            "title": f"{exchange} / {key}",
            "description": f"Celery task messages for routing key {key} on the exchange {exchange}.",
            "messages": {task.key: {"$ref": f"#/components/messages/{task.key}"} for task in routed},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {**_exchange_binding(exchange, vhost), "type": routed[0].exchange_type},
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
            "x-warren-exchange": exchange,
        }
        for task in routed:
            document["operations"][f"{task.service}.send.{task.key}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "title": f"{task.service} dispatches {task.name}",
                "summary": f"{task.service} dispatches {task.name} through its outbox (or beat, for sweeps).",
                "tags": [{"name": task.service}],
                "messages": [_message_ref(channel_id, task.key)],
                "x-warren-service": task.service,
            }
    for queue, routed in sorted(by_queue.items()):
        channel_id = f"queue.{queue}"
        service = routed[0].service
        document["channels"][channel_id] = {
            "address": queue,
            "title": f"queue {queue}",
            "description": f"Celery task queue of {service}: {', '.join(task.name for task in routed)}.",
            "messages": {task.key: {"$ref": f"#/components/messages/{task.key}"} for task in routed},
            "bindings": {
                "amqp": {
                    "is": "queue",
                    "queue": {
                        "name": queue,
                        "durable": True,
                        "exclusive": False,
                        "autoDelete": False,
                        "vhost": f"/{vhost}",
                    },
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
            "x-warren-bindings": [
                {"exchange": task.exchange, "pattern": task.routing_key} for task in routed
            ],
        }
        document["operations"][f"{queue}.receive"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "title": f"{service} workers run {queue}",
            "summary": "Celery workers consume with acks_late.",
            "tags": [{"name": service}],
            "messages": [_message_ref(channel_id, task.key) for task in routed],
            "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}},
            "x-warren-service": service,
        }
