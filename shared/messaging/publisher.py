"""Publishing with publisher confirms: a message is published only once the broker has confirmed it.

Every publish is ``mandatory``; a returned (unroutable) or nacked message raises, so nothing is lost silently.
"""

from __future__ import annotations

from typing import Any

from aio_pika.abc import AbstractChannel, AbstractExchange
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError, DeliveryError
from pamqp.commands import Basic

from shared.messaging.envelope import Envelope
from shared.messaging.errors import PublishError, UnroutableMessage
from shared.observability.tracing import current_traceparent

DEFAULT_CONFIRM_TIMEOUT = 10.0


class Publisher:
    """Publishes envelopes to named exchanges on one confirm channel."""

    def __init__(self, channel: AbstractChannel, *, confirm_timeout: float = DEFAULT_CONFIRM_TIMEOUT) -> None:
        self._channel = channel
        self._confirm_timeout = confirm_timeout
        self._exchanges: dict[str, AbstractExchange] = {}

    async def _exchange(self, name: str) -> AbstractExchange:
        exchange = self._exchanges.get(name)
        if exchange is None:
            # ensure=False: the exchange is declared by topology at start-up; publishing to a missing one
            # fails on the broker and surfaces below as a PublishError.
            exchange = (
                await self._channel.get_exchange(name, ensure=False)
                if name
                else self._channel.default_exchange
            )
            self._exchanges[name] = exchange
        return exchange

    async def publish(
        self,
        exchange: str,
        envelope: Envelope,
        *,
        routing_key: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> None:
        """Publish ``envelope`` and wait for the broker's confirm; raise :class:`PublishError` otherwise."""
        key = routing_key if routing_key is not None else envelope.routing_key
        if envelope.traceparent is None:
            traceparent = current_traceparent()
            if traceparent is not None:
                envelope = envelope.model_copy(update={"traceparent": traceparent})
        message = envelope.to_message(headers)
        target = await self._exchange(exchange)
        try:
            confirmation = await target.publish(
                message, routing_key=key, mandatory=True, timeout=self._confirm_timeout
            )
        except DeliveryError as exc:
            if exc.message is not None and getattr(exc.frame, "reply_code", None) is not None:
                raise UnroutableMessage(
                    f"{envelope.type} {envelope.message_id} to {exchange!r} with key {key!r} was returned "
                    f"by the broker: {getattr(exc.frame, 'reply_text', '')}"
                ) from exc
            raise PublishError(
                f"broker nacked {envelope.type} {envelope.message_id} to {exchange!r}"
            ) from exc
        except TimeoutError as exc:
            raise PublishError(
                f"no confirm for {envelope.message_id} within {self._confirm_timeout}s"
            ) from exc
        except (AMQPError, ChannelInvalidStateError, ConnectionError) as exc:
            self._exchanges.clear()
            raise PublishError(f"publish of {envelope.message_id} to {exchange!r} failed: {exc!r}") from exc
        if not isinstance(confirmation, Basic.Ack):
            raise PublishError(f"broker did not ack {envelope.message_id}: {confirmation!r}")
