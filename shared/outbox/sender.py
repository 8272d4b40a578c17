"""The relay's publisher: the platform :class:`Publisher` (confirms, mandatory), for prebuilt AMQP messages too.

Outbox rows are already messages (an envelope or a Celery task), so the relay publishes them as they are and
classifies every failure: returned, too large or refused over and over = the row can never go (permanent); broker
down, channel closed, no confirm = try again later (transient).
"""

from __future__ import annotations

import aio_pika
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError, ChannelNotFoundEntity, DeliveryError
from pamqp.commands import Basic

from shared.messaging.errors import PublishError, UnroutableMessage
from shared.messaging.publisher import Publisher


class BrokerRefused(PublishError):
    """The broker nacked the message, or its exchange does not exist: may pass later, counted per row."""


class MessageTooLarge(PublishError):
    """The message is larger than the relay (and the broker) accepts: it can never be published."""


class MessageSender(Publisher):
    """A :class:`Publisher` that also publishes prebuilt messages, mapping failures to typed errors."""

    async def publish_message(self, exchange: str, message: aio_pika.Message, *, routing_key: str) -> None:
        """Publish ``message`` (mandatory) and wait for its confirm; raise a :class:`PublishError` otherwise."""
        target = self._exchanges.get(exchange) or await self._exchange(exchange)
        ident = message.message_id
        try:
            with self._deadline():
                confirmation = await target.publish(message, routing_key=routing_key, mandatory=True)
        except DeliveryError as exc:
            if getattr(exc.frame, "reply_code", None) is not None:
                raise UnroutableMessage(
                    f"{ident} to {exchange!r} with key {routing_key!r} was returned by the broker: "
                    f"{getattr(exc.frame, 'reply_text', '')}"
                ) from exc
            raise BrokerRefused(f"broker nacked {ident} to {exchange!r}") from exc
        except ChannelNotFoundEntity as exc:
            self._exchanges.clear()
            raise BrokerRefused(f"exchange {exchange!r} does not exist: {exc}") from exc
        except TimeoutError as exc:
            raise PublishError(f"no confirm for {ident} within {self._confirm_timeout}s") from exc
        except (AMQPError, ChannelInvalidStateError, ConnectionError, RuntimeError) as exc:
            self._exchanges.clear()
            raise PublishError(f"publish of {ident} to {exchange!r} failed: {exc!r}") from exc
        if not isinstance(confirmation, Basic.Ack):
            raise BrokerRefused(f"broker did not ack {ident}: {confirmation!r}")
