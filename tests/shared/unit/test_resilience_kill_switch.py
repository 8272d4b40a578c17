"""The kill switch with a fake consumer: pause on open, resume on half-open, pause again on a failed probe."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from shared.resilience import (
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    KillSwitch,
    TransientDependencyError,
)
from shared.testing.waiting import wait_for


class FakeConsumer:
    def __init__(self, fail_pauses: int = 0) -> None:
        self.events: list[tuple[str, str]] = []
        self.paused: set[str] = set()
        self.fail_pauses = fail_pauses
        self.busy = 0

    async def pause(self, handler: str) -> None:
        if self.fail_pauses:
            self.fail_pauses -= 1
            raise ConnectionError("channel closed")
        self.events.append(("pause", handler))
        self.paused.add(handler)

    async def resume(self, handler: str) -> None:
        self.events.append(("resume", handler))
        self.paused.discard(handler)

    def in_flight(self, handler: str | None = None) -> int:
        return self.busy


async def failing() -> None:
    await asyncio.sleep(0)
    raise TransientDependencyError("dep", "503")


async def succeeding() -> None:
    await asyncio.sleep(0)


async def trip(cb: CircuitBreaker) -> None:
    for _ in range(cb.policy.fail_max):
        with pytest.raises(TransientDependencyError):
            await cb.call(failing)


@pytest.fixture
def breaker() -> CircuitBreaker:
    return CircuitBreaker("ks-dep", BreakerPolicy(fail_max=2, reset_timeout=0.3))


@pytest.fixture
async def switch(breaker: CircuitBreaker) -> AsyncIterator[tuple[KillSwitch, FakeConsumer]]:
    consumer = FakeConsumer()
    kill_switch = KillSwitch.for_consumer(consumer, "on_payment", [breaker], poll_interval=0.05)
    await kill_switch.start()
    yield kill_switch, consumer
    await kill_switch.stop()


async def test_handler_is_paused_when_its_breaker_opens(
    breaker: CircuitBreaker, switch: tuple[KillSwitch, FakeConsumer]
) -> None:
    kill_switch, consumer = switch
    await trip(breaker)
    await wait_for(lambda: "on_payment" in consumer.paused, timeout=2)
    assert kill_switch.paused


async def test_handler_resumes_when_the_breaker_half_opens_without_any_call(
    breaker: CircuitBreaker, switch: tuple[KillSwitch, FakeConsumer]
) -> None:
    _, consumer = switch
    await trip(breaker)
    await wait_for(lambda: consumer.events == [("pause", "on_payment")], timeout=2)
    # Nobody calls a paused handler's dependency: the switch itself moves the due breaker to half-open.
    await wait_for(lambda: consumer.events[-1] == ("resume", "on_payment"), timeout=2)
    assert breaker.state is BreakerState.HALF_OPEN


async def test_handler_is_paused_again_when_the_probe_fails(
    breaker: CircuitBreaker, switch: tuple[KillSwitch, FakeConsumer]
) -> None:
    _, consumer = switch
    await trip(breaker)
    await wait_for(lambda: breaker.state is BreakerState.HALF_OPEN and not consumer.paused, timeout=2)
    with pytest.raises(TransientDependencyError):
        await breaker.call(failing)
    await wait_for(lambda: "on_payment" in consumer.paused, timeout=2)
    assert [e for e, _ in consumer.events] == ["pause", "resume", "pause"]


async def test_handler_stays_resumed_when_the_probe_succeeds(
    breaker: CircuitBreaker, switch: tuple[KillSwitch, FakeConsumer]
) -> None:
    kill_switch, consumer = switch
    await trip(breaker)
    await wait_for(lambda: breaker.state is BreakerState.HALF_OPEN and not consumer.paused, timeout=2)
    await breaker.call(succeeding)
    assert breaker.state is BreakerState.CLOSED
    assert not kill_switch.paused
    assert [e for e, _ in consumer.events] == ["pause", "resume"]


async def test_pause_is_tried_again_when_the_consumer_fails_to_pause(breaker: CircuitBreaker) -> None:
    consumer = FakeConsumer(fail_pauses=1)
    kill_switch = KillSwitch.for_consumer(consumer, "on_payment", [breaker], poll_interval=0.05)
    await kill_switch.start()
    try:
        await trip(breaker)
        await wait_for(lambda: "on_payment" in consumer.paused, timeout=2)
    finally:
        await kill_switch.stop()


async def test_handler_is_paused_at_start_when_a_breaker_is_already_open(breaker: CircuitBreaker) -> None:
    await trip(breaker)
    consumer = FakeConsumer()
    kill_switch = KillSwitch.for_consumer(consumer, "on_payment", [breaker], poll_interval=0.05)
    await kill_switch.start()
    try:
        await wait_for(lambda: "on_payment" in consumer.paused, timeout=2)
    finally:
        await kill_switch.stop()


async def test_handler_stays_paused_while_any_of_its_breakers_is_open(breaker: CircuitBreaker) -> None:
    other = CircuitBreaker("ks-other", BreakerPolicy(fail_max=1, reset_timeout=60))
    consumer = FakeConsumer()
    kill_switch = KillSwitch.for_consumer(consumer, "on_payment", [breaker, other], poll_interval=0.05)
    await kill_switch.start()
    try:
        await trip(other)
        await trip(breaker)
        await wait_for(lambda: breaker.state is BreakerState.HALF_OPEN, timeout=2)
        assert "on_payment" in consumer.paused
        assert consumer.events == [("pause", "on_payment")]
    finally:
        await kill_switch.stop()


def test_kill_switch_refuses_to_watch_nothing_when_built() -> None:
    with pytest.raises(ValueError):
        KillSwitch.for_consumer(FakeConsumer(), "on_payment", [])


async def test_handler_stays_paused_through_half_open_when_its_messages_are_still_in_flight(
    breaker: CircuitBreaker, switch: tuple[KillSwitch, FakeConsumer]
) -> None:
    _, consumer = switch
    consumer.busy = 2  # two messages waiting out the breaker: one of them will probe
    await trip(breaker)
    await wait_for(lambda: breaker.state is BreakerState.HALF_OPEN, timeout=2)
    with pytest.raises(TransientDependencyError):
        await breaker.call(failing)  # the in-flight probe fails: no resume/pause flap around it
    assert breaker.state is BreakerState.OPEN
    await wait_for(lambda: breaker.state is BreakerState.HALF_OPEN, timeout=2)
    await breaker.call(succeeding)  # the next in-flight probe succeeds
    await wait_for(lambda: not consumer.paused, timeout=2)
    assert [e for e, _ in consumer.events] == ["pause", "resume"]


async def test_handler_resumes_on_half_open_when_nothing_is_left_in_flight(
    breaker: CircuitBreaker, switch: tuple[KillSwitch, FakeConsumer]
) -> None:
    _, consumer = switch
    consumer.busy = 1
    await trip(breaker)
    await wait_for(lambda: breaker.state is BreakerState.HALF_OPEN, timeout=2)
    assert consumer.paused == {"on_payment"}
    consumer.busy = 0  # the waiting message gave up: someone must bring the probe
    await wait_for(lambda: not consumer.paused, timeout=2)
    assert breaker.state is BreakerState.HALF_OPEN
