from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from fraud.adapters.risk_score import HttpRiskScorer
from fraud.domain.rules import PaymentFacts
from shared.resilience import NO_RETRY, BreakerPolicy, Dependency, RetryPolicy, idempotency_key

FACTS = PaymentFacts("p1", "c1", "ann@example.com", "NL", 500, datetime(2026, 1, 1, tzinfo=UTC))


def scorer(
    answers: list[httpx.Response | Exception], dependency: Dependency | None = None
) -> tuple[HttpRiskScorer, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    dependency = dependency or Dependency("risk-score-test", retry=NO_RETRY, timeout=1.0)
    return HttpRiskScorer(client, "http://risk/score", dependency), seen


async def test_score_is_returned_with_a_stable_idempotency_key_when_the_service_answers() -> None:
    risk, seen = scorer([httpx.Response(200, json={"score": 42})])
    assert await risk.score(FACTS) == 42
    assert seen[0].headers["Idempotency-Key"] == idempotency_key("risk-score", "p1")
    assert json.loads(seen[0].content)["amount"] == 500


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503),
        httpx.Response(400),
        httpx.Response(200, json={"score": 300}),
        httpx.Response(200, json={"score": True}),
        httpx.Response(200, text="not json"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
    ids=["5xx", "4xx", "out-of-range", "bool", "not-json", "refused", "timeout"],
)
async def test_no_score_is_given_when_the_service_fails(answer: httpx.Response | Exception) -> None:
    risk, _ = scorer([answer])
    assert await risk.score(FACTS) is None


async def test_a_transient_failure_is_retried_within_the_budget_when_the_next_attempt_answers() -> None:
    dependency = Dependency(
        "risk-score-retry", retry=RetryPolicy(attempts=2, total_seconds=2, initial_backoff=0, max_backoff=0)
    )
    risk, seen = scorer([httpx.Response(502), httpx.Response(200, json={"score": 7})], dependency)
    assert await risk.score(FACTS) == 7
    assert len(seen) == 2


async def test_the_service_is_not_called_while_the_breaker_is_open_when_it_kept_failing() -> None:
    dependency = Dependency(
        "risk-score-breaker", breaker=BreakerPolicy(fail_max=3, reset_timeout=60), retry=NO_RETRY, timeout=1.0
    )
    risk, seen = scorer([httpx.Response(503)], dependency)
    for _ in range(10):
        assert await risk.score(FACTS) is None
    assert len(seen) == 3  # the rest fell back to the rules at once, without a call
