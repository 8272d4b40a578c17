"""The async circuit breaker without network: async failures trip it, half-open admits one probe."""

import asyncio
import logging
from typing import Any

import pybreaker
import pytest
from prometheus_client import REGISTRY

from shared.resilience import (
    BreakerPolicy,
    BreakerState,
    BusinessOutcome,
    CircuitBreaker,
    CircuitOpenError,
    PermanentDependencyError,
    TransientDependencyError,
)
from shared.testing.waiting import wait_for


async def failing() -> None:
    await asyncio.sleep(0)  # a real suspension point: the failure happens after the first await
    raise TransientDependencyError("dep", "503")


async def succeeding() -> str:
    await asyncio.sleep(0)
    return "ok"


def breaker(name: str, **policy: Any) -> CircuitBreaker:
    return CircuitBreaker(name, BreakerPolicy(**{"fail_max": 3, "reset_timeout": 0.2, **policy}))


async def trip(cb: CircuitBreaker) -> None:
    for _ in range(cb.policy.fail_max):
        with pytest.raises(TransientDependencyError):
            await cb.call(failing)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_async_failures_open_the_breaker_when_fail_max_is_reached() -> None:
    cb = breaker("unit-trip")
    await trip(cb)
    assert cb.state is BreakerState.OPEN
    calls = 0

    async def counted() -> None:
        nonlocal calls
        calls += 1

    with pytest.raises(CircuitOpenError) as refused:
        await cb.call(counted)
    assert calls == 0
    assert refused.value.retry_after is not None
    assert 0 < refused.value.retry_after <= 0.2


async def test_pybreakers_own_decorator_misses_async_failures_when_wrapping_a_coroutine() -> None:
    # Why breaker.py exists: the stock decorator sees the coroutine object, not its failure.
    stock = pybreaker.CircuitBreaker(fail_max=1)
    guarded = stock(failing)
    with pytest.raises(TransientDependencyError):
        await guarded()
    assert stock.current_state == pybreaker.STATE_CLOSED


@pytest.mark.parametrize("outcome", [BusinessOutcome("declined"), PermanentDependencyError("dep", "400")])
async def test_breaker_stays_closed_when_the_dependency_answers_with_an_outcome(outcome: Exception) -> None:
    cb = breaker("unit-business")

    async def answer() -> None:
        raise outcome

    for _ in range(10):
        with pytest.raises(type(outcome)):
            await cb.call(answer)
    assert cb.state is BreakerState.CLOSED
    assert cb.fail_counter == 0


async def test_a_success_resets_the_failure_count_when_closed() -> None:
    cb = breaker("unit-reset")
    for _ in range(2):
        with pytest.raises(TransientDependencyError):
            await cb.call(failing)
    await cb.call(succeeding)
    assert cb.fail_counter == 0
    with pytest.raises(TransientDependencyError):
        await cb.call(failing)
    assert cb.state is BreakerState.CLOSED


async def test_half_open_admits_exactly_one_probe_when_calls_are_concurrent() -> None:
    cb = breaker("unit-probe")
    await trip(cb)
    await wait_for(lambda: cb.seconds_until_half_open() == 0, timeout=2)
    release = asyncio.Event()
    entered = 0

    async def probe() -> str:
        nonlocal entered
        entered += 1
        await release.wait()
        return "ok"

    tasks = [asyncio.create_task(cb.call(probe)) for _ in range(5)]
    await wait_for(lambda: sum(t.done() for t in tasks) == 4, timeout=2)
    assert entered == 1
    assert cb.state is BreakerState.HALF_OPEN
    refused = [t for t in tasks if t.done()]
    assert all(isinstance(t.exception(), CircuitOpenError) for t in refused)
    release.set()
    assert [await t for t in tasks if t not in refused] == ["ok"]
    assert cb.state is BreakerState.CLOSED


async def test_a_failed_probe_reopens_the_breaker_when_half_open() -> None:
    cb = breaker("unit-reopen")
    await trip(cb)
    await wait_for(lambda: cb.seconds_until_half_open() == 0, timeout=2)
    with pytest.raises(TransientDependencyError):
        await cb.call(failing)
    assert cb.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError):
        await cb.call(succeeding)


async def test_cancellation_counts_neither_way_and_frees_the_probe_when_the_probe_is_cancelled() -> None:
    cb = breaker("unit-cancel")
    await trip(cb)
    await wait_for(lambda: cb.seconds_until_half_open() == 0, timeout=2)
    task = asyncio.create_task(cb.call(asyncio.sleep, 10))
    await wait_for(lambda: cb.state is BreakerState.HALF_OPEN, timeout=2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cb.state is BreakerState.HALF_OPEN
    assert await cb.call(succeeding) == "ok"  # the next call may probe
    assert cb.state is BreakerState.CLOSED


async def test_try_half_open_moves_a_due_breaker_when_nobody_calls() -> None:
    cb = breaker("unit-timer")
    await trip(cb)
    assert not cb.try_half_open()
    await wait_for(cb.try_half_open, timeout=2)
    assert cb.state is BreakerState.HALF_OPEN


async def test_state_changes_are_logged_and_exported_when_the_breaker_moves(
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = "unit-metrics"
    cb = breaker(name)
    opened_before = sample(
        "warren_dependency_breaker_transitions_total", dependency=name, from_state="closed", to_state="open"
    )
    with caplog.at_level(logging.INFO, logger="shared.resilience.breaker"):
        await trip(cb)
        assert sample("warren_dependency_breaker_state", dependency=name) == 2
        await wait_for(cb.try_half_open, timeout=2)
        assert sample("warren_dependency_breaker_state", dependency=name) == 1
        await cb.call(succeeding)
    assert sample("warren_dependency_breaker_state", dependency=name) == 0
    assert (
        sample(
            "warren_dependency_breaker_transitions_total",
            dependency=name,
            from_state="closed",
            to_state="open",
        )
        == opened_before + 1
    )
    messages = [r.getMessage() for r in caplog.records]
    assert f"circuit breaker {name}: closed -> open" in messages
    assert f"circuit breaker {name}: half-open -> closed" in messages


def test_breaker_built_outside_a_loop_waits_in_any_loop_when_reused_across_loops() -> None:
    cb = breaker("unit-loops", fail_max=1, reset_timeout=0.1)

    async def trip_then_wait() -> float:
        with pytest.raises(TransientDependencyError):
            await cb.call(failing)
        waited = await cb.wait_admissible(2.0)
        await cb.call(succeeding)
        return waited

    for _ in range(2):  # a fresh event loop each time, as pytest gives each test
        assert 0 < asyncio.run(trip_then_wait()) < 1.5
    assert cb.state is BreakerState.CLOSED
