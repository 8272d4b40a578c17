"""Classifying HTTP answers into typed errors, without network (httpx responses built in memory)."""

import httpx
import pytest
from prometheus_client import REGISTRY

from shared.resilience import (
    Dependency,
    PermanentDependencyError,
    RetryPolicy,
    TransientDependencyError,
)
from shared.resilience.http import raise_for_status, request


def answer(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("POST", "http://provider/charges"))


@pytest.mark.parametrize("status", [200, 201, 204, 402])
def test_answer_is_returned_when_successful_or_a_business_status(status: int) -> None:
    response = answer(status)
    assert raise_for_status("provider", response, business_statuses={402}) is response


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 599])
def test_answer_is_transient_when_the_provider_may_recover(status: int) -> None:
    with pytest.raises(TransientDependencyError):
        raise_for_status("provider", answer(status))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
def test_answer_is_permanent_when_retrying_cannot_help(status: int) -> None:
    with pytest.raises(PermanentDependencyError):
        raise_for_status("provider", answer(status))


@pytest.mark.parametrize(("status", "expected"), [(429, 7.0), (503, 7.0), (500, None)])
def test_retry_after_is_kept_when_the_status_carries_it(status: int, expected: float | None) -> None:
    with pytest.raises(TransientDependencyError) as raised:
        raise_for_status("provider", answer(status, {"Retry-After": "7"}))
    assert raised.value.retry_after == expected


async def test_transport_failures_are_transient_and_the_key_is_sent_when_requesting() -> None:
    seen: list[str | None] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.headers.get("Idempotency-Key"))
        if len(seen) == 1:
            raise httpx.ConnectError("refused", request=req)
        if len(seen) == 2:
            raise httpx.ReadTimeout("slow", request=req)
        return httpx.Response(200, json={"ok": True})

    name = "unit-http-transport"
    retries_before = REGISTRY.get_sample_value("warren_dependency_retries_total", {"dependency": name}) or 0
    dep = Dependency(name, retry=RetryPolicy(attempts=3, initial_backoff=0, max_backoff=0))
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        response = await dep.call(
            request, client, name, "POST", "http://provider/charges", idempotency_key="k-1"
        )
    assert response.json() == {"ok": True}
    assert seen == ["k-1", "k-1", "k-1"]

    def sample(metric: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(metric, {"dependency": name, **labels}) or 0

    assert sample("warren_dependency_retries_total") - retries_before == 2
    assert sample("warren_dependency_calls_total", outcome="transient") == 1
    assert sample("warren_dependency_calls_total", outcome="timeout") == 1
    assert sample("warren_dependency_calls_total", outcome="success") == 1
