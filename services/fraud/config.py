"""Fraud settings, read from ``FRAUD_*`` environment variables (lists as JSON: ``'["XX","YY"]'``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from fraud.domain.rules import FraudRules
from shared.config import ServiceSettings


class FraudSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FRAUD_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/fraud.db"
    http_port: int = 8002

    reject_amount: int = Field(default=1_000_000, gt=0)  # minor units
    blocked_email_domains: frozenset[str] = frozenset({"blocked.example"})
    review_countries: frozenset[str] = frozenset()
    velocity_limit: int = Field(default=5, ge=1)  # more than this many payments ...
    velocity_window_seconds: float = Field(default=600.0, gt=0)  # ... within this window: review

    # Optional external risk score (POST {url} -> {"score": 0..100}); rules alone when unset or down.
    risk_score_url: str | None = None
    risk_score_timeout_seconds: float = Field(default=0.5, gt=0)  # per attempt
    risk_score_attempts: int = Field(default=2, ge=1)
    risk_breaker_fail_max: int = Field(default=5, ge=1)  # consecutive failures that open the breaker
    risk_breaker_reset_seconds: float = Field(default=30.0, gt=0)  # open this long, then one probe
    risk_review_score: int = Field(default=70, ge=0, le=100)
    risk_reject_score: int = Field(default=90, ge=0, le=100)

    def rules(self) -> FraudRules:
        return FraudRules(
            reject_amount=self.reject_amount,
            blocked_email_domains=frozenset(domain.lower() for domain in self.blocked_email_domains),
            review_countries=frozenset(country.upper() for country in self.review_countries),
            velocity_limit=self.velocity_limit,
            velocity_window_seconds=self.velocity_window_seconds,
            risk_review_score=self.risk_review_score,
            risk_reject_score=self.risk_reject_score,
        )
