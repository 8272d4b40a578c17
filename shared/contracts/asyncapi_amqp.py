"""AMQP bindings and references shared by the AsyncAPI builders (bindings version 0.3.0)."""

from __future__ import annotations

from typing import Any

AMQP_BINDING_VERSION = "0.3.0"


def _vhost(vhost: str) -> str:
    return vhost if vhost.startswith("/") else f"/{vhost}"


def exchange_binding(exchange: str, vhost: str, exchange_type: str = "topic") -> dict[str, Any]:
    """The ``exchange`` object of an AMQP channel binding with ``is: routingKey``: durable, never auto-deleted."""
    return {
        "name": exchange,
        "type": exchange_type,
        "durable": True,
        "autoDelete": False,
        "vhost": _vhost(vhost),
    }


def queue_binding(queue: str, vhost: str) -> dict[str, Any]:
    """A whole AMQP channel binding for a durable, shared queue (``is: queue``)."""
    return {
        "is": "queue",
        "queue": {
            "name": queue,
            "durable": True,
            "exclusive": False,
            "autoDelete": False,
            "vhost": _vhost(vhost),
        },
        "bindingVersion": AMQP_BINDING_VERSION,
    }


def message_ref(channel: str, key: str) -> dict[str, str]:
    """An operation's reference to one of its channel's messages."""
    return {"$ref": f"#/channels/{channel}/messages/{key}"}


def component_message(key: str) -> dict[str, str]:
    """A channel's reference to a message under ``components.messages``."""
    return {"$ref": f"#/components/messages/{key}"}
