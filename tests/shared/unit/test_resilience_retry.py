"""Retry policy logic without network: what is retried, how long it waits, when it gives up."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from shared.resilience import (
    BusinessOutcome,
    CircuitOpenError,
    DependencyTimeout,
    PermanentDependencyError,
    RetryPolicy,
    TransientDependencyError,
)
from shared.resilience.http import parse_retry_after


class Flaky:
    """Fails with the given errors in turn, then returns "done"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


async def run(policy: RetryPolicy, fn: Flaky, sleeps: Sleeps) -> str:
    async for attempt in policy.retrying("dep", sleep=sleeps):
        with attempt:
            return await fn()
    raise AssertionError("unreachable")


def transient(retry_after: float | None = None) -> TransientDependencyError:
    return TransientDependencyError("dep", "503", retry_after=retry_after)


async def test_transient_errors_are_retried_until_success_when_within_attempts() -> None:
    fn, sleeps = Flaky(transient(), DependencyTimeout("dep", "slow")), Sleeps()
    assert await run(RetryPolicy(attempts=3), fn, sleeps) == "done"
    assert fn.calls == 3
    assert len(sleeps) == 2


async def test_last_error_is_raised_when_attempts_are_exhausted() -> None:
    fn, sleeps = Flaky(transient(), transient(), transient(), transient()), Sleeps()
    with pytest.raises(TransientDependencyError):
        await run(RetryPolicy(attempts=3), fn, sleeps)
    assert fn.calls == 3


@pytest.mark.parametrize(
    "error",
    [
        PermanentDependencyError("dep", "400"),
        BusinessOutcome("declined"),
        CircuitOpenError("dep", "open"),
        ValueError("adapter bug"),
    ],
)
async def test_error_is_not_retried_when_not_transient(error: Exception) -> None:
    fn, sleeps = Flaky(error), Sleeps()
    with pytest.raises(type(error)):
        await run(RetryPolicy(attempts=5), fn, sleeps)
    assert fn.calls == 1
    assert sleeps == []


async def test_backoff_is_jittered_and_capped_when_retrying() -> None:
    policy = RetryPolicy(attempts=10, total_seconds=1000, initial_backoff=0.1, max_backoff=0.4)
    waits = [policy.backoff(n) for n in range(1, 8) for _ in range(50)]
    assert all(0 <= w <= 0.4 for w in waits)
    assert len(set(waits)) > 100  # jitter: not one fixed schedule shared by every client
    assert max(policy.backoff(1) for _ in range(200)) <= 0.1


async def test_retry_after_replaces_backoff_when_the_server_sends_it() -> None:
    fn, sleeps = Flaky(transient(retry_after=2.5)), Sleeps()
    assert await run(RetryPolicy(attempts=3, total_seconds=10, max_backoff=0.5), fn, sleeps) == "done"
    assert sleeps == [2.5]


async def test_gives_up_at_once_when_retry_after_points_past_the_budget() -> None:
    fn, sleeps = Flaky(transient(retry_after=30)), Sleeps()
    with pytest.raises(TransientDependencyError) as raised:
        await run(RetryPolicy(attempts=5, total_seconds=5), fn, sleeps)
    assert raised.value.retry_after == 30  # kept for the message-level retry
    assert fn.calls == 1
    assert sleeps == []


def test_policy_refuses_nonsense_when_configured() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(initial_backoff=2, max_backoff=1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("120", 120.0), ("0", 0.0), (None, None), ("", None), ("soon", None), ("-5", None)],
)
def test_retry_after_parses_delta_seconds_when_given(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_retry_after_parses_an_http_date_when_given() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(header, now=now) == 90.0
    past = format_datetime(now - timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


class GatewayUnavailable(Exception):
    """An adapter's own transient error type, predating the typed errors."""


async def test_adapter_error_types_are_retried_when_listed_in_retry_on() -> None:
    fn, sleeps = Flaky(GatewayUnavailable("503")), Sleeps()
    assert await run(RetryPolicy(attempts=2, retry_on=(GatewayUnavailable,)), fn, sleeps) == "done"
    assert fn.calls == 2
    fn = Flaky(GatewayUnavailable("503"))
    with pytest.raises(GatewayUnavailable):
        await run(RetryPolicy(attempts=2), fn, sleeps)
    assert fn.calls == 1
