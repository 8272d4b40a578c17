"""The consumer runtime: RabbitMQ deliveries to handlers, with manual acks, retry tiers and dead-lettering.

Usage (in a service's entrypoint, never at import)::

    connection = await connect(settings.amqp_url, connection_name="fraud")
    consumer = Consumer(connection, TOPOLOGY)
    consumer.register("on_payment_requested", assess_payment, accepts=[PaymentRequested])
    await consumer.start()          # declares the topology, then consumes every registered queue
    ...
    await consumer.stop(grace_seconds=20)

Each handler gets its own channel with ``prefetch`` = its queue's prefetch, so up to that many of its
messages are handled concurrently. A message is acked only after its handler returned; a failed message is
republished (with confirms) to a retry tier or its dead-letter queue and only then acked. Nothing is ever
requeued by the runtime. The robust connection brings channels and consumers back after a broker restart or a
dropped connection; an ack that could not be sent leaves the message to be redelivered (handlers are
idempotent through the inbox).
"""

from __future__ import annotations

import asyncio
import logging
from asyncio import current_task
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractMessage,
    AbstractQueue,
    ConsumerTag,
)
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError, DeliveryError
from pamqp.commands import Basic

from shared.contracts.base import Contract
from shared.messaging import metrics
from shared.messaging.declare import declare
from shared.messaging.dispatch import Handler, Route
from shared.messaging.errors import MessagingError, PublishError
from shared.messaging.failure import ACK, DeadLetter, Delivery, Outcome, Retry
from shared.messaging.management import ManagementClient
from shared.messaging.topology import HandlerQueue, Topology

log = logging.getLogger(__name__)

REPUBLISH_TIMEOUT = 10.0
# What a channel error on ack/republish looks like: the connection dropped under us.
_CHANNEL_GONE = (AMQPError, ChannelInvalidStateError, ConnectionError, RuntimeError)


@dataclass
class _Running:
    """One registered handler while the runtime runs: its channel, queues, consumer tags, in-flight tasks."""

    route: Route
    channel: AbstractChannel | None = None
    queues: dict[str, AbstractQueue] = field(default_factory=dict)
    tags: dict[str, ConsumerTag] = field(default_factory=dict)
    in_flight: set[asyncio.Task[Any]] = field(default_factory=set)
    paused: bool = False
    series: metrics.HandlerSeries = field(init=False)  # its consumed/acked/duration series, looked up once

    def __post_init__(self) -> None:
        self.series = metrics.handler_series(self.route.queue.service, self.route.queue.handler)


def copy_with_headers(message: AbstractMessage, headers: dict[str, Any]) -> aio_pika.Message:
    """The same message (body, id, type, correlation, timestamp...) with ``headers``, persistent."""
    return aio_pika.Message(
        body=message.body,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        priority=message.priority,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        message_id=message.message_id,
        timestamp=message.timestamp,
        type=message.type,
        app_id=message.app_id,
        # user_id is left out on purpose: the broker checks it against the publishing user.
    )


class Consumer:
    """Runs a service's handlers against its :class:`Topology` on one robust connection."""

    def __init__(
        self,
        connection: AbstractConnection,
        topology: Topology,
        *,
        declare_topology: bool = True,
        management: ManagementClient | None = None,
        grace_seconds: float = 20.0,
    ) -> None:
        self.name = f"{topology.service} consumers"  # a shared.runtime.lifecycle Component
        self._grace_seconds = grace_seconds
        self._connection = connection
        self._topology = topology
        self._declare = declare_topology
        self._management = management
        self._running: dict[str, _Running] = {}
        self._confirm_channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._started = False
        self._stopping = False

    @property
    def topology(self) -> Topology:
        return self._topology

    def register(
        self, handler_name: str | HandlerQueue, handler: Handler, accepts: Iterable[type[Contract]]
    ) -> None:
        """Route the handler queue named ``handler_name`` (in the topology) to ``handler``."""
        queue = handler_name if isinstance(handler_name, HandlerQueue) else self._topology.queue(handler_name)
        if queue.handler in self._running:
            raise ValueError(f"{queue.name} already has a handler")
        if self._started:
            raise RuntimeError("register handlers before start()")
        self._running[queue.handler] = _Running(Route.of(queue, handler, accepts))

    def in_flight(self, handler: str | None = None) -> int:
        """Messages being handled right now (of one handler, or of all)."""
        running = [self._running[handler]] if handler else self._running.values()
        return sum(len(r.in_flight) for r in running)

    async def start(self) -> None:
        """Declare the topology (unless told not to) and start consuming every registered handler's queues."""
        if self._started:
            return
        if self._declare:
            await declare(self._connection, self._topology, management=self._management)
        self._confirm_channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        for running in self._running.values():
            queue = running.route.queue
            channel = await self._connection.channel()
            # Ordered queues handle one message at a time, or a later message could overtake an earlier one.
            await channel.set_qos(prefetch_count=1 if queue.ordered else queue.prefetch)
            running.channel = channel
            for name in queue.source_queues:
                running.queues[name] = await channel.declare_queue(name, passive=True)
        self._started = True
        for running in self._running.values():
            await self._consume(running)
        log.info("consumer of %s started: %s", self._topology.service, ", ".join(self._running))

    async def _consume(self, running: _Running) -> None:
        for name, queue in running.queues.items():
            running.tags[name] = await queue.consume(self._deliveries(running, name), no_ack=False)
        running.paused = False

    async def _cancel(self, running: _Running) -> None:
        for name, tag in list(running.tags.items()):
            try:
                await running.queues[name].cancel(tag)
            except _CHANNEL_GONE as exc:
                log.warning("cancelling consumer of %s failed: %r", name, exc)
            running.tags.pop(name, None)

    async def pause(self, handler: str) -> None:
        """Stop taking new messages for ``handler`` (in-flight ones finish and are acked)."""
        running = self._running[handler]
        if running.paused or not self._started:
            return
        running.paused = True
        await self._cancel(running)
        log.warning("paused handler %s", running.route.queue.name)

    async def resume(self, handler: str) -> None:
        """Consume ``handler``'s queue again after :meth:`pause`."""
        running = self._running[handler]
        if not running.paused or self._stopping:
            return
        await self._consume(running)
        log.warning("resumed handler %s", running.route.queue.name)

    def is_paused(self, handler: str) -> bool:
        """True between :meth:`pause` and :meth:`resume`."""
        return self._running[handler].paused

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Stop consuming, let in-flight handlers finish within ``grace_seconds``, then close the channels.

        Messages whose handler finished are acked; handlers still running at the deadline are cancelled and
        their messages stay unacked, so the broker redelivers them.
        """
        if not self._started or self._stopping:
            return
        if grace_seconds is None:
            grace_seconds = self._grace_seconds
        self._stopping = True
        for running in self._running.values():
            await self._cancel(running)
        tasks = {task for running in self._running.values() for task in running.in_flight}
        if tasks:
            log.info("waiting up to %.1fs for %d in-flight messages", grace_seconds, len(tasks))
            _done, pending = await asyncio.wait(tasks, timeout=grace_seconds)
            for task in pending:
                task.cancel()
            if pending:
                log.warning(
                    "%d handlers did not finish in %.1fs; left for redelivery", len(pending), grace_seconds
                )
                await asyncio.wait(pending, timeout=5)
        for running in self._running.values():
            if running.channel is not None and not running.channel.is_closed:
                await running.channel.close()
        if self._confirm_channel is not None and not self._confirm_channel.is_closed:
            await self._confirm_channel.close()
        log.info("consumer of %s stopped", self._topology.service)

    def _deliveries(
        self, running: _Running, source: str
    ) -> Callable[[AbstractIncomingMessage], Coroutine[Any, Any, None]]:
        """The callback aio-pika runs, as a task, for each message from ``source``.

        One plain coroutine function per queue, everything else looked up once: aio-pika inspects the
        callback on every delivery, and each further coroutine layer would cost a frame on every resume.
        """
        route = running.route
        in_flight = running.in_flight
        series = running.series

        async def on_message(message: AbstractIncomingMessage) -> None:
            task = current_task()
            assert task is not None  # aio-pika runs every delivery as a task of its own
            in_flight.add(task)
            try:
                outcome = await route.process(
                    message, Delivery(source, message.exchange or "", message.routing_key or "")
                )
                if outcome is not ACK:
                    await self._settle(running, message, outcome)
                    return
                try:
                    await message.ack()
                except _CHANNEL_GONE as exc:
                    self._settle_failed(running, message, exc)
                    return
                series.acked += 1
            finally:
                in_flight.discard(task)

        return on_message

    def _settle_failed(self, running: _Running, message: AbstractIncomingMessage, exc: BaseException) -> None:
        queue = running.route.queue
        metrics.SETTLE_FAILED.labels(queue.service, queue.handler).inc()
        log.warning("ack of %s failed (%r); the broker will redeliver it", message.message_id, exc)

    async def _settle(self, running: _Running, message: AbstractIncomingMessage, outcome: Outcome) -> None:
        """Park a failed message in its retry tier or dead-letter queue, then ack it."""
        queue = running.route.queue
        labels = {"service": queue.service, "handler": queue.handler}
        try:
            if isinstance(outcome, Retry):
                await self._republish(self._topology.retry_exchange, outcome.queue, message, outcome.headers)
                metrics.RETRIED.labels(**labels, tier=str(outcome.tier + 1)).inc()
            elif isinstance(outcome, DeadLetter):
                await self._republish(
                    self._topology.dead_letter_exchange, outcome.queue, message, outcome.headers
                )
                metrics.DEAD_LETTERED.labels(**labels, failure=str(outcome.failure)).inc()
            await message.ack()
        except PublishError as exc:
            # Could not park the message: reject it so the queue's own dead-letter route (the DLQ) keeps
            # it, rather than requeueing it into a hot loop. With the channel gone, the broker redelivers.
            metrics.SETTLE_FAILED.labels(**labels).inc()
            log.error("could not republish %s (%s); rejecting to the DLQ", message.message_id, exc)
            await self._reject(message)
            return
        except _CHANNEL_GONE as exc:
            self._settle_failed(running, message, exc)

    async def _reject(self, message: AbstractIncomingMessage) -> None:
        try:
            await message.reject(requeue=False)
        except _CHANNEL_GONE as exc:
            log.warning("reject of %s failed (%r); the broker will redeliver it", message.message_id, exc)

    async def _republish(
        self, exchange: str, routing_key: str, message: AbstractIncomingMessage, headers: dict[str, Any]
    ) -> None:
        if self._confirm_channel is None:
            raise PublishError("consumer is not started")
        target = self._exchanges.get(exchange)
        if target is None:
            target = await self._confirm_channel.get_exchange(exchange, ensure=False)
            self._exchanges[exchange] = target
        try:
            confirmation = await target.publish(
                copy_with_headers(message, headers),
                routing_key=routing_key,
                mandatory=True,
                timeout=REPUBLISH_TIMEOUT,
            )
        except (DeliveryError, TimeoutError, *_CHANNEL_GONE) as exc:
            raise PublishError(
                f"republish of {message.message_id} to {exchange}/{routing_key}: {exc!r}"
            ) from exc
        if not isinstance(confirmation, Basic.Ack):
            raise PublishError(f"broker did not ack republish of {message.message_id}: {confirmation!r}")


__all__ = ["Consumer", "Handler", "MessagingError", "Route", "copy_with_headers"]
