"""The publisher's confirm timeout: one timer for all waiting publishes, still a PublishError per late one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pamqp.commands import Basic

from shared.messaging.envelope import Envelope
from shared.messaging.errors import PublishError
from shared.messaging.publisher import Publisher


class SilentExchange:
    """An exchange whose broker confirms only the publishes it is told to."""

    def __init__(self) -> None:
        self.confirms: dict[str, asyncio.Future[Basic.Ack]] = {}
        self.arrived = asyncio.Condition()

    async def publish(self, message: Any, routing_key: str, *, mandatory: bool) -> Basic.Ack:
        confirm = self.confirms[message.message_id] = asyncio.get_running_loop().create_future()
        async with self.arrived:
            self.arrived.notify_all()
        return await confirm

    async def published(self, count: int) -> None:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(self.confirms) >= count), timeout=5)

    def confirm(self, envelope: Envelope) -> None:
        self.confirms[str(envelope.message_id)].set_result(Basic.Ack())


class OneExchangeChannel:
    def __init__(self, exchange: SilentExchange) -> None:
        self.exchange = exchange

    async def get_exchange(self, name: str, *, ensure: bool) -> SilentExchange:
        return self.exchange


def envelope() -> Envelope:
    return Envelope(type="payment.captured.v1", correlation_id="c", producer="payment", payload={"x": 1})


def publisher(exchange: SilentExchange, timeout: float) -> Publisher:
    return Publisher(OneExchangeChannel(exchange), confirm_timeout=timeout)  # type: ignore[arg-type]


async def test_publish_raises_publish_error_when_no_confirm_comes_within_the_timeout() -> None:
    exchange = SilentExchange()
    with pytest.raises(PublishError, match="no confirm .* within 0.05s"):
        await asyncio.wait_for(publisher(exchange, 0.05).publish("payment.events", envelope()), timeout=5)


async def test_only_late_publishes_fail_when_others_are_confirmed_in_time() -> None:
    exchange = SilentExchange()
    sender = publisher(exchange, 0.2)
    on_time, late = envelope(), envelope()
    tasks = [asyncio.create_task(sender.publish("payment.events", e)) for e in (on_time, late)]
    await exchange.published(2)
    exchange.confirm(on_time)
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=5)
    assert results[0] is None
    assert isinstance(results[1], PublishError)
    assert sender._expiry is None  # nothing waits, so no timer is left armed


async def test_publish_stays_cancelled_when_cancelled_by_its_caller_before_the_deadline() -> None:
    exchange = SilentExchange()
    task = asyncio.create_task(publisher(exchange, 10).publish("payment.events", envelope()))
    await exchange.published(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_publisher_disarms_its_timer_when_the_last_confirm_arrives() -> None:
    exchange = SilentExchange()
    sender = publisher(exchange, 10)
    sent = envelope()
    task = asyncio.create_task(sender.publish("payment.events", sent))
    await exchange.published(1)
    assert sender._expiry is not None
    exchange.confirm(sent)
    await task
    assert sender._expiry is None
    assert not sender._waiting
