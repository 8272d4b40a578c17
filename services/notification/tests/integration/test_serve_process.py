"""``python -m notification migrate`` then ``serve`` as a real process: events in, notifications stored,
graceful stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from notification.tests.factories import envelope_for, outcome
from shared.messaging.connection import confirm_channel, connect
from shared.messaging.publisher import Publisher
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_published_outcome_is_stored_once_when_serve_consumes_it(
    amqp_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOTIFICATION_")}
    env.update(
        {
            "NOTIFICATION_AMQP_URL": amqp_url,
            "NOTIFICATION_DATABASE_URL": sqlite_url,
            "NOTIFICATION_HTTP_PORT": str(port),
        }
    )
    migrate = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "notification", "migrate"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert migrate.returncode == 0, migrate.stderr.decode()
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

            async def stored() -> list[dict[str, object]]:
                listed: list[dict[str, object]] = (
                    await http.get("/notifications", params={"correlation_id": envelope.correlation_id})
                ).json()
                return listed

            [notification] = await wait_for(stored, timeout=30, interval=0.2, message="notification stored")
            assert notification["recipient"] == "serve@example.com"
    finally:
        serve.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(serve.wait(), 30)
        log.close()
    assert code == 0, (tmp_path / "serve.log").read_text()
