"""Resilience against a real local HTTP dependency the test controls (shared.testing.flaky_http)."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from shared.resilience import (
    BreakerPolicy,
    BreakerState,
    BulkheadPolicy,
    CircuitOpenError,
    Dependency,
    DependencyTimeout,
    RetryPolicy,
    TransientDependencyError,
    idempotency_key,
)
from shared.resilience.http import dependency_client, request
from shared.testing.flaky_http import HANG, OK, FlakyHttpServer, decline, fail, flapping, slow
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
async def provider() -> AsyncIterator[FlakyHttpServer]:
    async with FlakyHttpServer() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # The client services build (aiohttp underneath), so every case here also covers its error mapping.
    async with dependency_client(timeout=5.0) as client:
        yield client


class Gateway:
    """What a service's gateway adapter looks like: one Dependency, one key per logical operation."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, dependency: Dependency) -> None:
        self.http = http
        self.base_url = base_url
        self.dependency = dependency

    async def charge(self, payment_id: str, amount: int) -> dict[str, Any]:
        return await self.dependency.call(
            self._post_charge,
            {"payment_id": payment_id, "amount": amount},
            idempotency_key=idempotency_key("charge", payment_id),
        )

    async def _post_charge(self, body: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        response = await request(
            self.http,
            self.dependency.name,
            "POST",
            f"{self.base_url}/charges",
            json=body,
            idempotency_key=idempotency_key,
            business_statuses={402},
        )
        result: dict[str, Any] = response.json()
        return result


def gateway(http: httpx.AsyncClient, provider: FlakyHttpServer, name: str, **options: Any) -> Gateway:
    defaults: dict[str, Any] = {
        "breaker": BreakerPolicy(fail_max=3, reset_timeout=0.5),
        "retry": RetryPolicy(attempts=3, total_seconds=5, initial_backoff=0.02, max_backoff=0.1),
        "timeout": 1.0,
    }
    return Gateway(http, provider.url, Dependency(name, **{**defaults, **options}))


async def test_breaker_opens_half_opens_and_closes_when_the_dependency_fails_then_recovers(
    provider: FlakyHttpServer, http: httpx.AsyncClient
) -> None:
    gw = gateway(http, provider, "it-cycle", retry=RetryPolicy(attempts=1))
    breaker = gw.dependency.breaker
    provider.outage()
    for n in range(3):
        with pytest.raises(TransientDependencyError):
            await gw.charge(f"p-{n}", 100)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError):
        await gw.charge("p-refused", 100)
    assert len(provider.requests) == 3  # an open breaker does not touch the dependency

    await wait_for(lambda: breaker.seconds_until_half_open() == 0, timeout=3)
    provider.healthy()
    provider.script(slow(0.3))  # the probe is slow, so concurrent calls meet a half-open breaker
    probe = asyncio.create_task(gw.charge("p-probe", 100))
    await wait_for(lambda: breaker.state is BreakerState.HALF_OPEN, timeout=3)
    with pytest.raises(CircuitOpenError):
        await gw.charge("p-second", 100)
    assert (await probe)["effect"] == idempotency_key("charge", "p-probe")
    assert breaker.state is BreakerState.CLOSED
    assert len(provider.requests) == 4
    await gw.charge("p-after", 100)
    assert breaker.state is BreakerState.CLOSED


async def test_retries_stay_within_the_attempt_cap_when_the_dependency_keeps_failing(
    provider: FlakyHttpServer, http: httpx.AsyncClient
) -> None:
    policy = RetryPolicy(attempts=4, total_seconds=5, initial_backoff=0.05, max_backoff=0.2)
    gw = gateway(http, provider, "it-attempts", retry=policy, breaker=BreakerPolicy(fail_max=100))
    provider.outage(fail(503))
    started = time.monotonic()
    with pytest.raises(TransientDependencyError):
        await gw.charge("p-1", 100)
    elapsed = time.monotonic() - started
    assert provider.attempts(idempotency_key("charge", "p-1")) == 4
    assert elapsed < 3 * 0.2 + 1.0  # three capped backoffs plus request time


async def test_retries_stay_within_the_total_time_when_every_attempt_is_slow(
    provider: FlakyHttpServer, http: httpx.AsyncClient
) -> None:
    policy = RetryPolicy(attempts=50, total_seconds=1.0, initial_backoff=0.01, max_backoff=0.05)
    gw = gateway(http, provider, "it-total", retry=policy, timeout=5.0, breaker=BreakerPolicy(fail_max=100))
    provider.outage(fail(503, delay=0.25))
    started = time.monotonic()
    with pytest.raises(TransientDependencyError):
        await gw.charge("p-1", 100)
    elapsed = time.monotonic() - started
    assert 2 <= len(provider.requests) <= 5
    assert elapsed < 1.0 + 0.3  # the budget, plus at most part of one in-flight attempt


async def test_retry_after_seconds_is_honoured_when_the_dependency_answers_429(
    provider: FlakyHttpServer, http: httpx.AsyncClient
) -> None:
    gw = gateway(http, provider, "it-retry-after")
    provider.script(fail(429, retry_after=1))
    result = await gw.charge("p-1", 100)
    assert result["effect"] == idempotency_key("charge", "p-1")
    first, second = provider.requests
    assert 1.0 <= second.at - first.at < 1.5


async def test_retry_after_http_date_is_honoured_when_the_dependency_answers_503(
    provider: FlakyHttpServer, http: httpx.AsyncClient
) -> None:
    gw = gateway(http, provider, "it-retry-date")
    # HTTP dates have whole-second precision and the date is fixed before the request is made (on a loaded CI
    # machine, up to a second before): aim 3 s ahead, so the honoured wait is still clearly over 1 s.
    provider.script(
        fail(503, retry_after=format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True))
    )
    await gw.charge("p-1", 100)
    first, second = provider.requests
    assert 1.0 <= second.at - first.at < 3.5


async def test_call_fails_with_a_timeout_when_the_dependency_never_answers(
    provider: FlakyHttpServer, http: httpx.AsyncClient
) -> None:
    gw = gateway(http, provider, "it-timeout", timeout=0.2, retry=RetryPolicy(attempts=2, initial_backoff=0))
    provider.set_default(HANG)
    started = time.monotonic()
    with pytest.raises(DependencyTimeout):
        await gw.charge("p-1", 100)
    assert time.monotonic() - started < 1.0
    assert len(provider.requests) == 2


async def test_effect_happens_once_when_the_answer_is_lost_and_the_call_retried(
    provider: FlakyHttpServer, http: httpx.AsyncClient
) -> None:
    gw = gateway(http, provider, "it-effect-once", timeout=0.3)
    provider.script(slow(5.0))  # the provider charges, then the answer never arrives in time
    result = await gw.charge("p-1", 100)
    key = idempotency_key("charge", "p-1")
    assert provider.effects == {key: 1}
    assert provider.attempts(key) == 2
    assert provider.requests[1].replayed
    assert result["effect"] == key


async def test_concurrent_calls_stay_within_the_bulkhead_when_the_dependency_is_slow(
    provider: FlakyHttpServer, http: httpx.AsyncClient
) -> None:
    gw = gateway(http, provider, "it-bulkhead", bulkhead=BulkheadPolicy(max_concurrent=3, max_wait=5))
    provider.set_default(slow(0.2))
    results = await asyncio.gather(*(gw.charge(f"p-{n}", 100) for n in range(9)))
    assert len(results) == 9
    assert provider.max_in_flight == 3
    assert sum(provider.effects.values()) == 9


async def test_every_call_completes_once_when_the_dependency_flaps(
    provider: FlakyHttpServer, http: httpx.AsyncClient
) -> None:
    policy = RetryPolicy(attempts=10, total_seconds=5, initial_backoff=0.05, max_backoff=0.2)
    gw = gateway(http, provider, "it-flap", retry=policy, breaker=BreakerPolicy(fail_max=100))
    provider.set_default(flapping(up=0.15, down=0.15))
    for n in range(10):
        await gw.charge(f"p-{n}", 100)
    assert provider.effects == {idempotency_key("charge", f"p-{n}"): 1 for n in range(10)}


async def test_declines_never_open_the_breaker_when_the_dependency_answers_402(
    provider: FlakyHttpServer, http: httpx.AsyncClient
) -> None:
    gw = gateway(http, provider, "it-decline")
    provider.set_default(decline())
    for n in range(10):
        assert (await gw.charge(f"p-{n}", 100))["declined"] is True
    assert gw.dependency.breaker.state is BreakerState.CLOSED
    assert len(provider.requests) == 10
    assert not provider.effects
    provider.set_default(OK)


async def test_breaker_opens_when_the_dependency_refuses_connections(http: httpx.AsyncClient) -> None:
    stopped = FlakyHttpServer()
    await stopped.start()
    url = stopped.url
    await stopped.stop()  # its port now refuses connections
    assert url.rsplit(":", 1)[1] != "0"
    gw = Gateway(
        http,
        url,
        Dependency(
            "it-refused", breaker=BreakerPolicy(fail_max=2, reset_timeout=30), retry=RetryPolicy(attempts=1)
        ),
    )
    for n in range(2):
        with pytest.raises(TransientDependencyError):
            await gw.charge(f"p-{n}", 100)
    assert gw.dependency.breaker.state is BreakerState.OPEN
