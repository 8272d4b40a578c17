"""Contract tests: the tools under tools/contract_tools are importable, the suite's catalogue is built once."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

from contract_tools.declarations import Loaded, load  # noqa: E402


@pytest.fixture(scope="session")
def loaded() -> Loaded:
    return load()


@pytest.fixture
def today() -> date:
    return datetime.now(UTC).date()
