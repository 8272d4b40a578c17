"""Alembic environment for notification's database: the platform's runner with notification's tables."""

from notification.adapters.orm import metadata
from shared.persistence.migrations import run_environment

run_environment(metadata)
