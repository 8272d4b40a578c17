"""Breaker state shared by several instances of a service through Redis (127.0.0.1:6379)."""

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from shared.resilience import (
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    KillSwitch,
    TransientDependencyError,
    redis_storage,
)
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("WARREN_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def namespace() -> Iterator[tuple[redis.Redis, str]]:
    """A Redis client and a key namespace of this test's own, deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL)
    name = f"test-resilience-{uuid.uuid4().hex[:10]}"
    try:
        yield client, name
    finally:
        keys = list(client.scan_iter(f"{name}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def instance(shared: tuple[redis.Redis, str], reset_timeout: float = 1.0) -> CircuitBreaker:
    client, namespace = shared
    policy = BreakerPolicy(fail_max=2, reset_timeout=reset_timeout)
    return CircuitBreaker("provider", policy, storage=redis_storage(client, "provider", namespace=namespace))


async def failing() -> None:
    await asyncio.sleep(0)
    raise TransientDependencyError("provider", "503")


async def succeeding() -> str:
    await asyncio.sleep(0)
    return "ok"


async def test_other_instances_refuse_calls_when_one_instance_opened_the_shared_breaker(
    namespace: tuple[redis.Redis, str],
) -> None:
    # Redis keeps opened_at in whole seconds, so a shared breaker may come due up to 1 s early: a 3 s reset
    # keeps it surely open for the refusal below, even on a loaded machine.
    first, second = instance(namespace, reset_timeout=3.0), instance(namespace, reset_timeout=3.0)
    for _ in range(2):
        with pytest.raises(TransientDependencyError):
            await first.call(failing)
    assert first.state is BreakerState.OPEN
    assert second.state is BreakerState.OPEN
    called = False

    async def spy() -> None:
        nonlocal called
        called = True

    with pytest.raises(CircuitOpenError):
        await second.call(spy)
    assert not called

    # pybreaker keeps opened_at in whole seconds in Redis: wait for the due time, then probe from the other one.
    await wait_for(second.try_half_open, timeout=8)
    assert await second.call(succeeding) == "ok"
    assert second.state is BreakerState.CLOSED
    assert first.state is BreakerState.CLOSED


async def test_failures_add_up_across_instances_when_they_share_the_breaker(
    namespace: tuple[redis.Redis, str],
) -> None:
    first, second = instance(namespace), instance(namespace)
    with pytest.raises(TransientDependencyError):
        await first.call(failing)
    assert first.state is BreakerState.CLOSED
    with pytest.raises(TransientDependencyError):
        await second.call(failing)
    assert first.state is BreakerState.OPEN


async def test_kill_switch_pauses_an_idle_instance_when_another_instance_opened_the_breaker(
    namespace: tuple[redis.Redis, str],
) -> None:
    busy, idle = instance(namespace, reset_timeout=30), instance(namespace, reset_timeout=30)
    paused: list[str] = []

    async def pause(handler: str) -> None:
        paused.append(handler)

    async def resume(handler: str) -> None:
        paused.remove(handler)

    kill_switch = KillSwitch("on_order", [idle], pause=pause, resume=resume, poll_interval=0.1)
    await kill_switch.start()
    try:
        for _ in range(2):
            with pytest.raises(TransientDependencyError):
                await busy.call(failing)
        await wait_for(lambda: paused == ["on_order"], timeout=5)
        busy.close()
        await wait_for(lambda: paused == [], timeout=5)
    finally:
        await kill_switch.stop()
