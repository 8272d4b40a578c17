"""Without a reachable RabbitMQ, `make run`'s steps say how to get one instead of printing a traceback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from warrenctl.app import app

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def test_setup_explains_how_to_start_rabbitmq_when_the_broker_is_unreachable(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "setup",
            "--admin-url",
            f"http://127.0.0.1:{_closed_port()}",
            "--secrets-dir",
            str(tmp_path / "secrets"),
        ],
    )
    assert result.exit_code == 2
    assert "RabbitMQ is not reachable" in result.output
    assert "rabbitmq-server -detached" in result.output
    assert "docker compose up -d rabbitmq" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_ensure_infra_explains_how_to_get_rabbitmq_when_it_is_not_installed(tmp_path: Path) -> None:
    # A PATH with the usual tools but no rabbitmq-* commands: a machine without RabbitMQ installed.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "env", "cat", "curl", "sleep"):
        found = shutil.which(tool)
        assert found is not None, tool
        (bin_dir / tool).symlink_to(found)
    result = subprocess.run(
        ["bash", str(ROOT / "scripts/ensure-infra"), "rabbitmq"],
        env={**os.environ, "PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "rabbitmq-server -detached" in result.stderr
    assert "docker compose up -d rabbitmq" in result.stderr
    assert "Traceback" not in result.stderr
