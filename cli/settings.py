"""Where the CLI finds the broker: ``WARREN_*`` variables, else the file ``make run`` writes, else defaults."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.messaging.management import DEFAULT_MANAGEMENT_URL

# `make run` writes the operator's generated credentials here (outside git, mode 0600).
RUN_ENV_FILE = Path(os.environ.get("WARREN_ENV_FILE", "var/secrets/run.env"))


class CliSettings(BaseSettings):
    """Operator connection settings (``WARREN_AMQP_URL``, ``WARREN_MANAGEMENT_URL``, ...)."""

    model_config = SettingsConfigDict(env_prefix="WARREN_", env_file=RUN_ENV_FILE, extra="ignore")

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/warren"
    management_url: str = DEFAULT_MANAGEMENT_URL
    management_user: str = "guest"
    management_password: str = "guest"
    vhost: str = "warren"
