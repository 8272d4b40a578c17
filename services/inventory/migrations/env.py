"""Alembic environment for inventory's database: the platform's runner with inventory's tables."""

from inventory.adapters.tables import metadata
from shared.persistence.migrations import run_environment

run_environment(metadata)
