"""Alembic environment for payment's database: the platform's runner with payment's tables."""

from payment.adapters.orm import metadata
from shared.persistence.migrations import run_environment

run_environment(metadata)
