"""The notification Celery worker runs with the notification user's permissions: it declares its queues and
Celery's plumbing, becomes ready, and answers `celery inspect ping` (the container's health check)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration

APP = "notification.entrypoints.celery_app"
CELERY = [sys.executable, "-m", "celery", "-A", APP]


def test_worker_starts_and_answers_ping_when_running_as_the_notification_user(
    applied_model: Any, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "NOTIFICATION_AMQP_URL": applied_model.url("notification"),
        "NOTIFICATION_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'notification.db'}",
    }
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(
            [
                *CELERY,
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "1",
                "--without-gossip",
                "--without-mingle",
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        asyncio.run(wait_for(lambda: "ready." in log.read_text() or worker.poll() is not None, timeout=60))
        assert worker.poll() is None, log.read_text()[-3000:]
        assert "ACCESS_REFUSED" not in log.read_text()
        ping = subprocess.run(
            [*CELERY, "inspect", "ping", "--timeout", "10"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert "pong" in ping.stdout
    finally:
        worker.terminate()
        worker.wait(timeout=30)
