"""AsyncAPI channels, operations and messages for Celery task messages (dispatched and run by one service)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from shared.contracts.asyncapi_amqp import (
    AMQP_BINDING_VERSION,
    component_message,
    exchange_binding,
    message_ref,
    queue_binding,
)
from shared.contracts.catalogue import TaskRoute
from shared.messaging.envelope import CONTENT_TYPE


def task_message(task: TaskRoute) -> dict[str, Any]:
    """The AsyncAPI message of a Celery task: protocol 2 headers and ``[args, kwargs, embed]`` body."""
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


def add_tasks(document: dict[str, Any], tasks: tuple[TaskRoute, ...], vhost: str) -> None:
    """Add every task's message, its send operation on the task exchange and its queue's receive operation."""
    for task in tasks:
        document["components"]["messages"][task.key] = task_message(task)
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
            "messages": {task.key: component_message(task.key) for task in routed},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": exchange_binding(exchange, vhost, routed[0].exchange_type),
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
                "messages": [message_ref(channel_id, task.key)],
                "x-warren-service": task.service,
            }
    for queue, routed in sorted(by_queue.items()):
        channel_id = f"queue.{queue}"
        service = routed[0].service
        document["channels"][channel_id] = {
            "address": queue,
            "title": f"queue {queue}",
            "description": f"Celery task queue of {service}: {', '.join(task.name for task in routed)}.",
            "messages": {task.key: component_message(task.key) for task in routed},
            "bindings": {"amqp": queue_binding(queue, vhost)},
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
            "messages": [message_ref(channel_id, task.key) for task in routed],
            "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}},
            "x-warren-service": service,
        }
