"""`warren outbox ...` against real service databases (SQLite and PostgreSQL) holding the platform tables."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from shared.outbox.schema import outbox_messages
from shared.persistence.metadata import PLATFORM_METADATA
from warrenctl.app import app

pytestmark = pytest.mark.integration


def _row(status: str, *, age: timedelta = timedelta(0), error: str | None = None) -> dict[str, Any]:
    return {
        "message_id": str(uuid.uuid4()),
        "kind": "event",
        "message_type": "payment.requested.v1",
        "aggregate_id": "p-1",
        "exchange": "payment.events",
        "routing_key": "payment.requested",
        "producer": "payment",
        "correlation_id": "order-1",
        "payload": "{}",
        "created_at": datetime.now(UTC) - age,
        "status": status,
        "attempts": 5 if status == "failed" else 0,
        "last_error": error,
    }


async def _seed(url: str, rows: list[dict[str, Any]]) -> list[int]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(PLATFORM_METADATA.create_all)
            ids = []
            for row in rows:
                result = await connection.execute(insert(outbox_messages).values(**row))
                ids.append(int(result.inserted_primary_key[0]))
            return ids
    finally:
        await engine.dispose()


async def _statuses(url: str) -> dict[int, str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(select(outbox_messages.c.id, outbox_messages.c.status))
            return {int(row.id): str(row.status) for row in rows}
    finally:
        await engine.dispose()


@pytest.fixture
def seeded(database_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[int]]:
    ids = asyncio.run(
        _seed(
            database_url,
            [
                _row("pending", age=timedelta(minutes=12)),
                _row("pending"),
                _row("failed", error="UnroutableMessage: no queue bound for payment.requested"),
                _row("sent"),
            ],
        )
    )
    monkeypatch.setenv("PAYMENT_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "250")
    return database_url, ids


def test_status_shows_pending_oldest_age_and_failed_when_rows_wait(seeded: tuple[str, list[int]]) -> None:
    result = CliRunner().invoke(app, ["outbox", "status", "--service", "payment"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "payment" in line)
    assert [cell.strip() for cell in line.strip("│ ").split("│")] == ["payment", "2", "12m", "1", "1"]


def test_failed_lists_the_relay_error_when_a_row_failed(seeded: tuple[str, list[int]]) -> None:
    result = CliRunner().invoke(app, ["outbox", "failed", "--service", "payment"])
    assert result.exit_code == 0, result.output
    assert "no queue bound for payment.requested" in result.output
    assert str(seeded[1][2]) in result.output


def test_retry_puts_a_failed_row_back_to_pending_when_given_its_id(seeded: tuple[str, list[int]]) -> None:
    url, ids = seeded
    result = CliRunner().invoke(app, ["outbox", "retry", "payment", str(ids[2])])
    assert result.exit_code == 0, result.output
    assert asyncio.run(_statuses(url))[ids[2]] == "pending"


def test_retry_fails_when_the_row_is_not_a_failed_one(seeded: tuple[str, list[int]]) -> None:
    url, ids = seeded
    result = CliRunner().invoke(app, ["outbox", "retry", "payment", str(ids[3])])
    assert result.exit_code == 1
    assert asyncio.run(_statuses(url))[ids[3]] == "sent"


def test_status_reports_an_unreachable_database_without_hiding_the_others(
    seeded: tuple[str, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUD_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(app, ["outbox", "status", "--service", "payment", "--service", "fraud"])
    assert result.exit_code == 0, result.output
    assert "fraud" in result.output
    assert "Error" in result.output
    assert any(line.strip("│ ").startswith("payment") for line in result.output.splitlines())
