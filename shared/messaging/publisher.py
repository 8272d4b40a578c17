"""Publishing with publisher confirms: a message is published only once the broker has confirmed it.

Every publish is ``mandatory``; a returned (unroutable) or nacked message raises, so nothing is lost silently.
"""

from __future__ import annotations

import asyncio
from asyncio import current_task, get_running_loop
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
        # Publishes awaiting their confirm: task -> deadline (loop time), oldest first. One timer, armed for
        # the oldest deadline, cancels overdue publishes: cheaper than a timer armed and cancelled around
        # every publish, which is what aio-pika's ``timeout=`` does.
        self._waiting: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._expiry: asyncio.TimerHandle | None = None

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

    def _deadline(self) -> _ConfirmDeadline:
        """Around awaiting one publish's confirm: past ``confirm_timeout`` it is cancelled as a TimeoutError."""
        return _ConfirmDeadline(self)

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel every publish past its deadline, then re-arm for the oldest one still waiting."""
        self._expiry = None
        now = loop.time()
        for task, deadline in self._waiting.items():
            if deadline > now:
                self._expiry = loop.call_at(deadline, self._expire, loop)
                return
            if task not in self._expired:
                self._expired.add(task)
                task.cancel()

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
        target = self._exchanges.get(exchange) or await self._exchange(exchange)
        try:
            with self._deadline():
                confirmation = await target.publish(message, routing_key=key, mandatory=True)
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


class _ConfirmDeadline:
    """One publish in :attr:`Publisher._waiting` while it awaits its confirm (a plain ``with``: no coroutine)."""

    __slots__ = ("_publisher", "_task")

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher
        task = current_task()
        assert task is not None  # a publish runs in a task
        self._task = task

    def __enter__(self) -> None:
        publisher = self._publisher
        loop = get_running_loop()
        deadline = loop.time() + publisher._confirm_timeout
        publisher._waiting[self._task] = deadline  # a task awaits one confirm at a time
        if publisher._expiry is None:
            publisher._expiry = loop.call_at(deadline, publisher._expire, loop)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        publisher, task = self._publisher, self._task
        del publisher._waiting[task]
        if not publisher._waiting and publisher._expiry is not None:
            # Idle: no timer left behind (nor one on a loop that may be closed before it fires).
            publisher._expiry.cancel()
            publisher._expiry = None
        if publisher._expired and task in publisher._expired:
            publisher._expired.discard(task)
            # Our cancellation, taken back; a TimeoutError unless someone else cancelled the task too (as
            # asyncio.timeout does).
            if task.uncancel() == 0 and kind is asyncio.CancelledError:
                raise TimeoutError(f"no confirm within {publisher._confirm_timeout}s") from None
