"""Celery beat drives the sweeps: a notification whose task was lost is re-dispatched and delivered."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mailsink.server import MailSink
from notification.adapters.repository import NotificationRepository
from notification.domain.model import Channel, Notification, Status
from notification.tests.harness import Worker, load, sink_messages
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration


async def test_lost_task_is_redispatched_by_beat_when_its_notification_stalls(
    start_worker: Callable[..., Any],
    worker_env: dict[str, str],
    database: AsyncEngine,
    sink: MailSink,
    tmp_path: Path,
) -> None:
    sweep_env = {"NOTIFICATION_STALLED_SWEEP_EVERY_SECONDS": "1", "NOTIFICATION_STALLED_AFTER_SECONDS": "1"}
    await start_worker(**sweep_env)
    # Stored, but its task never reached the broker (think: a purged queue).
    async with database.begin() as connection:
        await NotificationRepository(connection).add(
            Notification(
                id="lost-1",
                dedupe_key="payment.captured:lost",
                channel=Channel.EMAIL,
                recipient="lost@example.com",
                template="payment_captured",
                subject="Found again",
                body_text="body",
                body_html=None,
                correlation_id="c",
                created_at=datetime.now(UTC) - timedelta(minutes=1),
            )
        )
    beat = Worker(
        {**worker_env, **sweep_env},
        tmp_path / "beat.log",
        ["beat", "--loglevel", "INFO", "--schedule", str(tmp_path / "beat-schedule"), "--max-interval", "1"],
    )
    try:

        async def sent() -> bool:
            return (await load(database, "lost-1")).status is Status.SENT

        await wait_for(sent, timeout=60, interval=0.2, message="stalled notification delivered")
    finally:
        await asyncio.to_thread(beat.stop)
    assert "notification.redispatch_stalled" in beat.log()
    assert [m["subject"] for m in await sink_messages(sink)] == ["Found again"]
