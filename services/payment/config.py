"""Payment settings, from ``PAYMENT_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from payment.service_layer.handlers import ChargePolicy
from shared.config import ServiceSettings
from shared.resilience.breaker import BreakerPolicy
from shared.resilience.bulkhead import BulkheadPolicy
from shared.resilience.dependency import Dependency
from shared.resilience.retry import RetryPolicy


class PaymentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENT_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/payment.db"
    http_port: int = 8000
    gateway_url: str = "http://127.0.0.1:8090"
    # One gateway call (connect + answer); the resilience policy retries within the call budget below.
    gateway_timeout_seconds: float = Field(default=2.0, gt=0)
    gateway_max_concurrency: int = Field(default=32, gt=0)
    gateway_attempts: int = Field(default=3, ge=1)  # per charge attempt, with backoff
    gateway_retry_seconds: float = Field(default=6.0, gt=0)  # all attempts of one charge, together
    gateway_breaker_fail_max: int = Field(default=5, ge=1)
    gateway_breaker_reset_seconds: float = Field(default=5.0, gt=0)
    # How long a payment may wait for a usable gateway answer before it is failed.
    deadline_seconds: float = Field(default=600.0, gt=0)
    charge_lease_seconds: float = Field(default=30.0, gt=0)
    charge_retry_base_seconds: float = Field(default=1.0, gt=0)
    charge_retry_max_seconds: float = Field(default=30.0, gt=0)
    sweep_interval_seconds: float = Field(default=1.0, gt=0)

    def gateway_dependency(self) -> Dependency:
        """The card gateway as a platform dependency: retries, breaker, per-attempt timeout, bulkhead."""
        return Dependency(
            "card-gateway",
            breaker=BreakerPolicy(
                fail_max=self.gateway_breaker_fail_max, reset_timeout=self.gateway_breaker_reset_seconds
            ),
            retry=RetryPolicy(
                attempts=self.gateway_attempts,
                total_seconds=self.gateway_retry_seconds,
                initial_backoff=0.1,
                max_backoff=1.0,
            ),
            timeout=self.gateway_timeout_seconds,
            bulkhead=BulkheadPolicy(max_concurrent=self.gateway_max_concurrency, max_wait=1.0),
        )

    def charge_policy(self) -> ChargePolicy:
        return ChargePolicy(
            time_to_deadline=timedelta(seconds=self.deadline_seconds),
            lease=timedelta(seconds=self.charge_lease_seconds),
            retry_base=timedelta(seconds=self.charge_retry_base_seconds),
            retry_max=timedelta(seconds=self.charge_retry_max_seconds),
        )
