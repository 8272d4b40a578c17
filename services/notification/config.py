"""Settings of the notification service, from ``NOTIFICATION_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import Environment, ServiceSettings, UnsafeConfigurationError

DEV_WEBHOOK_SECRET = "dev-only-webhook-secret"
# RabbitMQ's default consumer_timeout (30 min). A delivery must be acked well within it; see docs/notification.md.
RABBITMQ_DEFAULT_CONSUMER_TIMEOUT = 1800.0


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore")

    http_port: int = 8003
    database_url: str = "sqlite+aiosqlite:///./var/notification.db"

    # Who hears about what.
    brand: str = "Warren Shop"
    operator_email: str = "operator@warren.local"
    webhook_url: str | None = None
    webhook_secret: str = DEV_WEBHOOK_SECRET
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)

    # SMTP (the mail sink in development).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_sender: str = "Warren Shop <no-reply@warren.local>"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None

    # Celery delivery. The broker URL defaults to amqp_url (the same RabbitMQ, vhost `warren`).
    celery_broker_url: str | None = None
    retry_base_seconds: float = Field(default=2.0, ge=1)
    retry_max_seconds: float = Field(default=300.0, ge=1)
    # 40 attempts with delays capped at 5 min keep retrying for about 3 hours: an hour-long SMTP outage
    # ends in delivery, not in a failed notification.
    max_attempts: int = Field(default=40, ge=1)
    task_time_limit_seconds: float = Field(default=120.0, gt=0)
    # A claim older than this is considered abandoned (its worker died) and may be taken over.
    sending_lease_seconds: float = Field(default=300.0, gt=0)
    email_rate_limit: str | None = "50/s"
    webhook_rate_limit: str | None = "100/s"
    broker_consumer_timeout_seconds: float = RABBITMQ_DEFAULT_CONSUMER_TIMEOUT

    # Circuit breaker per provider.
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_reset_seconds: float = Field(default=30.0, gt=0)

    # Celery beat sweeps.
    stalled_after_seconds: float = Field(default=900.0, gt=0)
    stalled_sweep_every_seconds: float = Field(default=300.0, gt=0)
    retention_days: float = Field(default=30.0, gt=0)
    retention_sweep_every_seconds: float = Field(default=3600.0, gt=0)
    outbox_retention_hours: float = Field(default=24.0, gt=0)
    # Longer than any redelivery (retry tiers, DLQ replays), or a late duplicate would be handled again.
    inbox_retention_days: float = Field(default=7.0, gt=0)

    @property
    def broker_url(self) -> str:
        return self.celery_broker_url or self.amqp_url

    @model_validator(mode="after")
    def _retry_fits_consumer_timeout(self) -> NotificationSettings:
        # A task holds its message unacked while it runs; a run must end long before RabbitMQ's
        # consumer_timeout closes the channel. Retry delays never hold a message (native delayed delivery),
        # but they are bounded by the same budget in case a queue is ever switched back to classic.
        budget = self.broker_consumer_timeout_seconds / 2
        for name in ("retry_max_seconds", "task_time_limit_seconds"):
            if getattr(self, name) > budget:
                raise ValueError(
                    f"{name} must stay below half of RabbitMQ's consumer_timeout ({budget:.0f}s)"
                )
        if self.retry_base_seconds > self.retry_max_seconds:
            raise ValueError("retry_base_seconds must not exceed retry_max_seconds")
        # Webhooks signed with the public development secret could be forged by anyone.
        if (
            self.environment is Environment.PRODUCTION
            and self.webhook_url
            and self.webhook_secret == DEV_WEBHOOK_SECRET
        ):
            raise UnsafeConfigurationError(
                "set NOTIFICATION_WEBHOOK_SECRET: the development secret is public"
            )
        return self
