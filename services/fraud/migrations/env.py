"""Alembic environment for fraud's database: the platform's runner with fraud's tables."""

from fraud.adapters.tables import metadata
from shared.persistence.migrations import run_environment

run_environment(metadata)
