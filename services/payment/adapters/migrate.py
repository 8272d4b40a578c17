"""``python -m payment migrate``: alembic upgrade head on payment's database (also used by tests and ``make run``)."""

from __future__ import annotations

from pathlib import Path

from shared.persistence import migrations

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def upgrade(database_url: str) -> None:
    """Bring payment's database to the latest schema."""
    migrations.upgrade(database_url, MIGRATIONS)
