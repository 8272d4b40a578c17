"""The optional external risk-score service: ``POST {url}`` with the payment's facts, ``{"score": 0..100}``.

Any failure (down, slow, nonsense answer) means "no score": the rules then decide alone. The call is short
and bounded, so a flapping risk service slows no assessment by more than its timeout.
"""

from __future__ import annotations

import logging

import httpx
from prometheus_client import Counter

from fraud.domain.rules import PaymentFacts

log = logging.getLogger(__name__)

RISK_CALLS = Counter("fraud_risk_score_calls_total", "Calls to the external risk score", ["result"])


class RiskScoreUnavailable(Exception):
    """The risk service did not give a usable score (transport error, 5xx, bad body)."""


class HttpRiskScorer:
    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self._client = client
        self._url = url

    async def fetch(self, facts: PaymentFacts) -> int:
        """One call; raises :class:`RiskScoreUnavailable` on anything but a valid score."""
        try:
            response = await self._client.post(
                self._url,
                json={
                    "payment_id": facts.payment_id,
                    "customer_id": facts.customer_id,
                    "email": facts.email,
                    "country": facts.country,
                    "amount": facts.amount,
                },
                headers={"Idempotency-Key": facts.payment_id},
            )
            response.raise_for_status()
            score = response.json()["score"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise RiskScoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(score, int) or not 0 <= score <= 100:
            raise RiskScoreUnavailable(f"score {score!r} is not an integer from 0 to 100")
        return score

    async def score(self, facts: PaymentFacts) -> int | None:
        try:
            value = await self.fetch(facts)
        except RiskScoreUnavailable as exc:
            RISK_CALLS.labels("unavailable").inc()
            log.warning("risk score unavailable for %s, rules decide alone: %s", facts.payment_id, exc)
            return None
        RISK_CALLS.labels("ok").inc()
        return value
