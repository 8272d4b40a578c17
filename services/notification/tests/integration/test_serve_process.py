"""The whole service as processes: ``python -m notification migrate`` and ``serve`` (consumers, outbox relay,
HTTP) plus a Celery worker. A published outcome becomes one email; SIGTERM stops serve gracefully."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailsink.server import MailSink
from notification.tests.factories import envelope_for, outcome
from notification.tests.harness import sink_messages
from shared.messaging.connection import confirm_channel, connect
from shared.messaging.publisher import Publisher
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_published_outcome_becomes_one_email_when_serve_and_worker_run(
    amqp_url: str,
    worker_env: dict[str, str],
    start_worker: Callable[..., Any],
    sink: MailSink,
    tmp_path: Path,
) -> None:
    port = _free_port()
    env = {**worker_env, "NOTIFICATION_HTTP_PORT": str(port)}
    migrate = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "notification", "migrate"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert migrate.returncode == 0, migrate.stderr.decode()
    await start_worker()
    log = (tmp_path / "serve.log").open("wb")
    serve = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "notification", "serve", env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

            async def ready() -> bool:
                if serve.returncode is not None:
                    raise RuntimeError((tmp_path / "serve.log").read_text())
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(ready, timeout=30, interval=0.2, message="notification serve ready")
            connection = await connect(amqp_url, connection_name="test-publisher")
            try:
                publisher = Publisher(await confirm_channel(connection))
                event = outcome("captured", email="serve@example.com")
                envelope = envelope_for(event)
                await publisher.publish("payment.events", envelope)
                await publisher.publish("payment.events", envelope)  # a duplicate delivery
            finally:
                await connection.close()

            async def sent() -> list[dict[str, Any]]:
                listed: list[dict[str, Any]] = (
                    await http.get("/notifications", params={"correlation_id": envelope.correlation_id})
                ).json()
                return [n for n in listed if n["status"] == "sent"]

            [notification] = await wait_for(sent, timeout=60, interval=0.2, message="notification sent")
            assert notification["recipient"] == "serve@example.com"
    finally:
        serve.terminate()
        code = await asyncio.wait_for(serve.wait(), 30)
        log.close()
    assert code == 0, (tmp_path / "serve.log").read_text()
    messages = await sink_messages(sink)
    assert [m["rcpt_to"] for m in messages] == [["serve@example.com"]]
    assert "Payment received: 123.45 EUR" in messages[0]["subject"]
