from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from fraud.adapters.risk_score import HttpRiskScorer
from fraud.domain.rules import PaymentFacts

FACTS = PaymentFacts("p1", "c1", "ann@example.com", "NL", 500, datetime(2026, 1, 1, tzinfo=UTC))


def scorer(answer: httpx.Response | Exception) -> tuple[HttpRiskScorer, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return HttpRiskScorer(client, "http://risk/score"), seen


async def test_score_is_returned_and_the_payment_is_the_idempotency_key_when_the_service_answers() -> None:
    risk, seen = scorer(httpx.Response(200, json={"score": 42}))
    assert await risk.score(FACTS) == 42
    assert seen[0].headers["Idempotency-Key"] == "p1"
    assert json.loads(seen[0].content)["amount"] == 500


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503),
        httpx.Response(200, json={"score": 300}),
        httpx.Response(200, text="not json"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
    ids=["5xx", "out-of-range", "not-json", "refused", "timeout"],
)
async def test_no_score_is_given_when_the_service_fails(answer: httpx.Response | Exception) -> None:
    risk, _ = scorer(answer)
    assert await risk.score(FACTS) is None
