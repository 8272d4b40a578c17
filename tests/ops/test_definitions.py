"""deploy/rabbitmq/definitions.json: generated from the one broker model, no passwords, loadable by RabbitMQ."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path

import aio_pika
import pytest
from typer.testing import CliRunner

from shared.testing.fixtures import AMQP_BASE
from warrenctl import broker_setup
from warrenctl.app import app
from warrenctl.broker_admin import BrokerAdmin

ROOT = Path(__file__).resolve().parents[2]


def test_committed_definitions_match_the_broker_model_when_regenerated() -> None:
    committed = json.loads((ROOT / "deploy/rabbitmq/definitions.json").read_text())
    assert committed == broker_setup.definitions(), (
        "regenerate: warren definitions -o deploy/rabbitmq/definitions.json"
    )


def test_committed_definitions_hold_no_password_when_read() -> None:
    committed = json.loads((ROOT / "deploy/rabbitmq/definitions.json").read_text())
    assert {user["password_hash"] for user in committed["users"]} == {""}
    assert "guest" not in {user["name"] for user in committed["users"]}


def test_definitions_from_env_refuse_when_a_password_is_missing() -> None:
    result = CliRunner().invoke(app, ["definitions", "--from-env"], env={"RABBITMQ_ADMIN_PASSWORD": "x"})
    assert result.exit_code == 2
    assert "RABBITMQ_PAYMENT_PASSWORD" in result.output


def test_compose_env_writes_every_password_the_compose_file_needs(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    assert CliRunner().invoke(app, ["compose-env", "--output", str(target)]).exit_code == 0
    written = dict(line.split("=", 1) for line in target.read_text().splitlines() if not line.startswith("#"))
    compose = (ROOT / "docker-compose.yml").read_text()
    needed = set(re.findall(r"\$\{([A-Z_]+)", compose))
    assert needed <= set(written)
    assert target.stat().st_mode & 0o077 == 0


@pytest.mark.integration
def test_password_hash_lets_the_user_log_in_when_imported_into_the_broker(
    vhost: str, broker_admin: BrokerAdmin
) -> None:
    user, password = f"test-{uuid.uuid4().hex[:8]}-hash", broker_setup.generate_password()
    document = {
        "users": [
            {
                "name": user,
                "password_hash": broker_setup.rabbit_password_hash(password),
                "hashing_algorithm": broker_setup.HASHING_ALGORITHM,
                "tags": [],
            }
        ],
        "permissions": [{"user": user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}],
    }
    try:
        broker_admin.import_definitions(document)
        host = AMQP_BASE.split("@")[-1]

        async def login() -> None:
            connection = await aio_pika.connect(f"amqp://{user}:{password}@{host}/{vhost}")
            await connection.close()

        asyncio.run(login())
    finally:
        broker_admin.delete_user(user)
