"""The optional external risk-score service: ``POST {url}`` with the payment's facts, ``{"score": 0..100}``.

Every call goes through a :class:`~shared.resilience.Dependency` (timeout, breaker, bounded retry, bulkhead).
Any failure (down, slow, open breaker, nonsense answer) means "no score": the rules then decide alone, so a
flapping risk service delays no assessment by more than its budget and stops being called while it is down.
"""

from __future__ import annotations

import logging

import httpx
from prometheus_client import Counter

from fraud.domain.rules import PaymentFacts
from shared.resilience import Dependency, DependencyError, PermanentDependencyError, idempotency_key
from shared.resilience.http import request

log = logging.getLogger(__name__)

RISK_CALLS = Counter(
    "fraud_risk_score_calls_total", "Assessments by how the external risk score went", ["result"]
)


class HttpRiskScorer:
    def __init__(self, client: httpx.AsyncClient, url: str, dependency: Dependency) -> None:
        self._client = client
        self._url = url
        self._dependency = dependency

    async def _fetch(self, facts: PaymentFacts, *, idempotency_key: str) -> int:
        response = await request(
            self._client,
            self._dependency.name,
            "POST",
            self._url,
            json={
                "payment_id": facts.payment_id,
                "customer_id": facts.customer_id,
                "email": facts.email,
                "country": facts.country,
                "amount": facts.amount,
            },
            idempotency_key=idempotency_key,
        )
        try:
            score = response.json()["score"]
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentDependencyError(self._dependency.name, f"answer has no score: {exc!r}") from exc
        if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 100:
            raise PermanentDependencyError(self._dependency.name, f"score {score!r} is not an integer 0-100")
        return score

    async def score(self, facts: PaymentFacts) -> int | None:
        try:
            value = await self._dependency.call(
                self._fetch, facts, idempotency_key=idempotency_key("risk-score", facts.payment_id)
            )
        except DependencyError as exc:
            RISK_CALLS.labels("unavailable").inc()
            log.warning("risk score unavailable for %s, rules decide alone: %s", facts.payment_id, exc)
            return None
        RISK_CALLS.labels("ok").inc()
        return value
