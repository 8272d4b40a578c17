from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

pytestmark = pytest.mark.integration


def test_migrate_creates_the_service_and_platform_tables_when_run_as_a_command(tmp_path: Path) -> None:
    database = tmp_path / "nested" / "inventory.db"
    env = {**os.environ, "INVENTORY_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    subprocess.run([sys.executable, "-m", "inventory", "migrate"], env=env, check=True, timeout=60)
    tables = set(inspect(create_engine(f"sqlite:///{database}")).get_table_names())
    assert {"stock", "reservations", "outbox_messages", "inbox_messages", "alembic_version"} <= tables
