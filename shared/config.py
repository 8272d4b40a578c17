"""Settings shared by every Warren service.

Each service subclasses :class:`ServiceSettings` with its own env prefix (``PAYMENT_``, ``FRAUD_``, ...), so
one process environment can hold the whole suite's configuration without collisions.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class UnsafeConfigurationError(ValueError):
    """A setting that is fine on a laptop but refused in production (guest user, open bind address)."""


# PostgreSQL connections a service process keeps, unless <SERVICE>_DATABASE_POOL_SIZE says otherwise.
DEFAULT_DATABASE_POOL_SIZE = 15


class ServiceSettings(BaseSettings):
    """Base settings: broker, database, HTTP bind and environment. Subclasses set ``env_prefix``."""

    model_config = SettingsConfigDict(env_prefix="WARREN_", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/warren"
    database_url: str = "sqlite+aiosqlite:///./var/service.db"
    # PostgreSQL connections this process keeps (a fixed pool, see shared.runtime.service.service_engine).
    database_pool_size: int = Field(default=DEFAULT_DATABASE_POOL_SIZE, ge=2)
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    shutdown_grace_seconds: float = Field(default=20.0, gt=0)

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> ServiceSettings:
        problems = unsafe_settings(self)
        if not problems:
            return self
        if self.environment is Environment.PRODUCTION:
            raise UnsafeConfigurationError("refusing to start in production: " + "; ".join(problems))
        for problem in problems:
            log.warning("UNSAFE OUTSIDE A LAPTOP: %s", problem)
        return self


def unsafe_settings(settings: ServiceSettings) -> list[str]:
    """List the settings that must not reach production (guest broker user, wildcard bind, SQLite)."""
    problems: list[str] = []
    amqp = urlsplit(settings.amqp_url)
    if (amqp.username or "guest") == "guest":
        problems.append("the RabbitMQ user is 'guest'; create a per-service user (see deploy/rabbitmq)")
    if settings.http_host in {"0.0.0.0", "::"} and settings.environment is not Environment.PRODUCTION:
        problems.append(f"HTTP binds to {settings.http_host}, reachable from every network interface")
    if settings.environment is Environment.PRODUCTION and settings.database_url.startswith("sqlite"):
        problems.append("SQLite is the embedded default; production runs PostgreSQL")
    return problems
