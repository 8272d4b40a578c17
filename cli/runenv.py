"""The environment ``make run`` starts every process with: per-service broker credentials and databases."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from warrenctl.access import OPERATOR, SERVICES, VHOST

SERVICE_PORTS = {"payment": 8000, "inventory": 8001, "fraud": 8002, "notification": 8003}


def amqp_url(user: str, password: str, host: str, vhost: str = VHOST) -> str:
    return f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@{host}/{quote(vhost, safe='')}"


def run_environment(
    passwords: Mapping[str, str],
    *,
    data_dir: Path,
    amqp_host: str = "127.0.0.1:5672",
    management_url: str = "http://127.0.0.1:15672",
    vhost: str = VHOST,
    environ: Mapping[str, str] | None = None,
    user_prefix: str = "",
) -> dict[str, str]:
    """``{VAR: value}`` for every process; a ``<SERVICE>_DATABASE_URL`` already set (PostgreSQL) is kept."""
    environ = os.environ if environ is None else environ
    env: dict[str, str] = {"PYTHONUNBUFFERED": "1"}
    for service in SERVICES:
        prefix = service.upper()
        user = f"{user_prefix}{service}"
        env[f"{prefix}_AMQP_URL"] = amqp_url(user, passwords[user], amqp_host, vhost)
        database = (
            environ.get(f"{prefix}_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir.resolve() / service}.db"
        )
        env[f"{prefix}_DATABASE_URL"] = database
        env[f"{prefix}_HTTP_PORT"] = environ.get(f"{prefix}_HTTP_PORT", str(SERVICE_PORTS[service]))
    operator = f"{user_prefix}{OPERATOR}"
    env["WARREN_AMQP_URL"] = amqp_url(operator, passwords[operator], amqp_host, vhost)
    env["WARREN_MANAGEMENT_URL"] = management_url
    env["WARREN_MANAGEMENT_USER"] = operator
    env["WARREN_MANAGEMENT_PASSWORD"] = passwords[operator]
    env["WARREN_VHOST"] = vhost
    return env


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """Write ``KEY=value`` lines readable by honcho and ``set -a; source``; mode 0600 (it holds passwords)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    lines = [f"{key}='{value}'" for key, value in sorted(env.items())]
    path.write_text(
        "# Written by `warren setup` (make run). Holds broker passwords: keep out of git.\n"
        + "\n".join(lines)
        + "\n"
    )
