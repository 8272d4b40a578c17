"""Payment settings, from ``PAYMENT_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from payment.service_layer.handlers import ChargePolicy
from shared.config import ServiceSettings


class PaymentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENT_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/payment.db"
    http_port: int = 8000
    gateway_url: str = "http://127.0.0.1:8090"
    # One gateway call (connect + answer); the resilience policy retries within the call budget below.
    gateway_timeout_seconds: float = Field(default=2.0, gt=0)
    gateway_max_concurrency: int = Field(default=32, gt=0)
    # How long a payment may wait for a usable gateway answer before it is failed.
    deadline_seconds: float = Field(default=600.0, gt=0)
    charge_lease_seconds: float = Field(default=30.0, gt=0)
    charge_retry_base_seconds: float = Field(default=1.0, gt=0)
    charge_retry_max_seconds: float = Field(default=30.0, gt=0)
    sweep_interval_seconds: float = Field(default=1.0, gt=0)

    def charge_policy(self) -> ChargePolicy:
        return ChargePolicy(
            time_to_deadline=timedelta(seconds=self.deadline_seconds),
            lease=timedelta(seconds=self.charge_lease_seconds),
            retry_base=timedelta(seconds=self.charge_retry_base_seconds),
            retry_max=timedelta(seconds=self.charge_retry_max_seconds),
        )
