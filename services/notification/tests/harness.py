"""Helpers for delivery tests: the worker subprocess, reading the sink and the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from mailsink.server import MailSink
from notification.adapters.repository import DeliveryStore
from notification.domain.model import Notification
from shared.outbox.schema import RowKind, RowStatus, outbox_messages

WORKER_QUEUES = "notifications.email,notifications.webhook,notifications.maintenance"


async def sink_messages(sink: MailSink) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=sink.http_url) as http:
        response = await http.get("/messages")
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()
        return messages


class Worker:
    """A ``celery worker`` (prefork, one child) or ``celery beat`` subprocess, in its own process group."""

    def __init__(self, env: dict[str, str], log_path: Path, command: list[str] | None = None) -> None:
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "notification.entrypoints.celery_app", *command]
            if command
            else [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "notification.entrypoints.celery_app",
                "worker",
                "-Q",
                WORKER_QUEUES,
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--hostname",
                f"test-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.log_path = log_path

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except FileNotFoundError:
            return []

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


async def load(database: AsyncEngine, notification_id: str) -> Notification:
    notification = await DeliveryStore(database).load(notification_id)
    assert notification is not None
    return notification


async def pending_tasks(engine: AsyncEngine) -> list[tuple[str]]:
    """Task dispatches waiting in the outbox (not yet relayed), as ``(task name,)`` rows."""
    query = (
        select(outbox_messages.c.message_type)
        .where(outbox_messages.c.kind == RowKind.TASK.value)
        .where(outbox_messages.c.status == RowStatus.PENDING.value)
        .order_by(outbox_messages.c.id)
    )
    async with engine.connect() as connection:
        return [(row.message_type,) for row in await connection.execute(query)]
