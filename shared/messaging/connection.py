"""Building broker connections. Called from a service's entrypoint at start-up, never at import."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import aio_pika
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

# Heartbeat short enough to notice a dead broker within a minute; the robust connection then reconnects
# every `reconnect_interval` seconds until the broker is back.
DEFAULT_HEARTBEAT = 30
DEFAULT_RECONNECT_INTERVAL = 2


async def connect(
    url: str,
    *,
    connection_name: str,
    heartbeat: int = DEFAULT_HEARTBEAT,
    reconnect_interval: float = DEFAULT_RECONNECT_INTERVAL,
    timeout: float = 10.0,
) -> AbstractRobustConnection:
    """Open a robust connection that reconnects (and restores its channels and consumers) by itself."""
    return await aio_pika.connect_robust(
        url,
        heartbeat=heartbeat,
        reconnect_interval=reconnect_interval,
        timeout=timeout,
        client_properties={"connection_name": connection_name},
    )


async def confirm_channel(connection: AbstractRobustConnection) -> AbstractRobustChannel:
    """A channel with publisher confirms on, where a returned (unroutable) message raises."""
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    return channel


def redact(url: str) -> str:
    """``amqp://user:secret@host/vhost`` -> ``amqp://user:***@host/vhost`` for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
