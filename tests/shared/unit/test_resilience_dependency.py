"""The composed Dependency without network: order of policies, timeouts, bulkhead, idempotency keys."""

import asyncio
from typing import Any

import pytest

from shared.resilience import (
    BreakerPolicy,
    BreakerState,
    BulkheadFull,
    BulkheadPolicy,
    BusinessOutcome,
    CircuitBreaker,
    CircuitOpenError,
    Dependency,
    DependencyTimeout,
    RetryPolicy,
    TransientDependencyError,
    idempotency_headers,
    idempotency_key,
)
from shared.testing.waiting import wait_for


async def no_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


def dependency(name: str, **options: Any) -> Dependency:
    defaults: dict[str, Any] = {
        "breaker": BreakerPolicy(fail_max=5, reset_timeout=60),
        "retry": RetryPolicy(attempts=3, total_seconds=10),
        "timeout": 1.0,
        "sleep": no_sleep,
    }
    return Dependency(name, **{**defaults, **options})


class Provider:
    """Records the idempotency key of every attempt; fails the first ``failures`` attempts."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.keys: list[str | None] = []

    async def charge(self, amount: int, *, idempotency_key: str | None = None) -> str:
        self.keys.append(idempotency_key)
        if len(self.keys) <= self.failures:
            raise TransientDependencyError("provider", "503")
        return f"charged {amount}"


async def test_every_attempt_carries_the_same_key_when_a_call_is_retried() -> None:
    provider = Provider(failures=2)
    key = idempotency_key("charge", "payment-1")
    result = await dependency("dep-key").call(provider.charge, 100, idempotency_key=key)
    assert result == "charged 100"
    assert provider.keys == [key, key, key]


def test_idempotency_key_is_stable_and_distinct_when_derived_from_the_operation() -> None:
    assert idempotency_key("charge", "p-1") == idempotency_key("charge", "p-1")
    assert idempotency_key("charge", "p-1") != idempotency_key("refund", "p-1")
    assert idempotency_key("charge", "p-1") != idempotency_key("charge", "p-2")
    assert idempotency_key("charge", "a", "bc") != idempotency_key("charge", "ab", "c")
    assert idempotency_headers("k") == {"Idempotency-Key": "k"}
    assert idempotency_headers(None) == {}


async def test_retries_stop_at_once_when_the_breaker_opens_mid_call() -> None:
    provider = Provider(failures=100)
    dep = dependency(
        "dep-order", breaker=BreakerPolicy(fail_max=2, reset_timeout=60), retry=RetryPolicy(attempts=5)
    )
    with pytest.raises(TransientDependencyError) as raised:
        await dep.call(provider.charge, 1)
    # Two attempts trip the breaker (each attempt is recorded); the third is refused without calling.
    assert isinstance(raised.value, CircuitOpenError)
    assert len(provider.keys) == 2
    assert dep.breaker.state is BreakerState.OPEN


async def test_a_slow_attempt_becomes_a_transient_timeout_when_it_exceeds_the_timeout() -> None:
    calls = 0

    async def hang() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(10)

    dep = dependency("dep-timeout", timeout=0.05, retry=RetryPolicy(attempts=2, initial_backoff=0))
    with pytest.raises(DependencyTimeout):
        await dep.call(hang)
    assert calls == 2
    assert dep.breaker.fail_counter == 2


async def test_attempt_timeout_never_runs_past_the_retry_budget_when_the_budget_is_short() -> None:
    dep = dependency("dep-budget", timeout=5.0, retry=RetryPolicy(attempts=1, total_seconds=0.1))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(DependencyTimeout):
        await dep.call(asyncio.sleep, 10)
    assert loop.time() - started < 1.0


async def test_business_outcome_is_raised_once_and_not_counted_when_the_provider_declines() -> None:
    calls = 0

    async def decline() -> None:
        nonlocal calls
        calls += 1
        raise BusinessOutcome("declined")

    dep = dependency("dep-business", breaker=BreakerPolicy(fail_max=1))
    for _ in range(3):
        with pytest.raises(BusinessOutcome):
            await dep.call(decline)
    assert calls == 3
    assert dep.breaker.state is BreakerState.CLOSED


async def test_bulkhead_refuses_a_call_when_every_slot_is_taken_past_the_wait_bound() -> None:
    release = asyncio.Event()
    dep = dependency("dep-bulkhead", bulkhead=BulkheadPolicy(max_concurrent=2, max_wait=0.05))
    held = [asyncio.create_task(dep.call(release.wait)) for _ in range(2)]
    await wait_for(lambda: dep.bulkhead.in_flight == 2, timeout=2)
    with pytest.raises(BulkheadFull):
        await dep.call(release.wait)
    release.set()
    await asyncio.gather(*held)
    assert dep.bulkhead.in_flight == 0
    assert dep.breaker.fail_counter == 0  # our saturation is not the dependency's failure


async def test_bulkhead_waits_for_a_slot_when_one_frees_within_the_bound() -> None:
    release = asyncio.Event()
    dep = dependency("dep-bulkhead-wait", bulkhead=BulkheadPolicy(max_concurrent=1, max_wait=2))
    first = asyncio.create_task(dep.call(release.wait))
    await wait_for(lambda: dep.bulkhead.in_flight == 1, timeout=2)
    second = asyncio.create_task(dep.call(asyncio.sleep, 0, "second"))
    await asyncio.sleep(0)
    assert not second.done()
    release.set()
    assert await second == "second"
    await first


def test_dependency_refuses_a_call_without_timeout_when_configured() -> None:
    with pytest.raises(ValueError):
        Dependency("dep-no-timeout", timeout=0)


async def test_call_waits_out_an_open_breaker_uncharged_to_the_retry_budget_when_open_wait_is_set() -> None:
    provider = Provider()
    dep = dependency(
        "dep-open-wait",
        breaker=BreakerPolicy(fail_max=1, reset_timeout=0.3),
        retry=RetryPolicy(attempts=1, total_seconds=0.1),
        open_wait=5.0,
    )
    dep.breaker.open()
    results = await asyncio.gather(*(dep.call(provider.charge, n) for n in range(3)))
    assert results == ["charged 0", "charged 1", "charged 2"]
    assert dep.breaker.state is BreakerState.CLOSED


async def test_call_fails_fast_on_an_open_breaker_when_open_wait_is_zero() -> None:
    provider = Provider()
    dep = dependency("dep-fail-fast", breaker=BreakerPolicy(fail_max=1, reset_timeout=30))
    dep.breaker.open()
    with pytest.raises(CircuitOpenError):
        await dep.call(provider.charge, 1)
    assert provider.keys == []


async def test_call_waits_on_a_shared_breaker_when_the_breaker_has_another_name() -> None:
    shared = CircuitBreaker("provider", BreakerPolicy(fail_max=1, reset_timeout=0.2))
    dep = dependency("provider-refunds", breaker=shared, open_wait=5.0)
    shared.open()
    assert await dep.call(Provider().charge, 7) == "charged 7"
