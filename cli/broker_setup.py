"""Apply Warren's broker model (vhost, one user per service, permissions, policies, events exchanges).

The same model feeds three things, so they cannot drift apart:
- :func:`apply` sets it up on a running broker through the management API (``make run``, the tests);
- :func:`definitions` renders it as a RabbitMQ definitions file (``deploy/rabbitmq/definitions.json``),
  with empty password hashes in the repository and real ones filled in from the environment at deploy time;
- :mod:`warrenctl.access` is the single source of the permission regexes both use.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shared.messaging.topology import events_exchange
from warrenctl.access import SERVICES, VHOST, ServiceAccess, all_accounts
from warrenctl.broker_admin import BrokerAdmin
from warrenctl.policies import POLICIES

ADMIN_USER = "admin"
HASHING_ALGORITHM = "rabbit_password_hashing_sha256"


def service_exchanges(service: str) -> list[tuple[str, str]]:
    """Exchanges created up front: each service's events exchange, so a consumer may start (and bind) before
    the producer ever ran, although it may not configure that exchange itself."""
    return [(events_exchange(service), "topic")]


def rabbit_password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password)), 4-byte salt."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def generate_password() -> str:
    return secrets.token_urlsafe(24)


def load_or_create_passwords(path: Path, users: Sequence[str]) -> dict[str, str]:
    """Read ``{user: password}`` from ``path`` (0600, outside git), generating any that are missing."""
    passwords: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [user for user in users if user not in passwords]
    if missing or not path.exists():
        for user in missing:
            passwords[user] = generate_password()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(json.dumps(passwords, indent=2, sort_keys=True) + "\n")
    return passwords


def apply(
    admin: BrokerAdmin,
    passwords: Mapping[str, str],
    *,
    vhost: str = VHOST,
    accounts: Sequence[ServiceAccess] | None = None,
) -> list[ServiceAccess]:
    """Create or update the vhost, users, permissions, policies and service exchanges (idempotent)."""
    accounts = list(accounts if accounts is not None else all_accounts())
    admin.put_vhost(vhost, "Warren: payment, fraud, inventory, notification")
    for account in accounts:
        admin.put_user(account.user, passwords[account.user], account.tags)
        admin.put_permissions(vhost, account.user, account.permissions.as_dict())
    for policy in POLICIES:
        admin.put_policy(vhost, policy.name, policy.body())
    for service in SERVICES:
        for name, exchange_type in service_exchanges(service):
            admin.put_exchange(vhost, name, exchange_type)
    return accounts


def definitions(
    *,
    vhost: str = VHOST,
    password_hashes: Mapping[str, str] | None = None,
    admin_user: str = ADMIN_USER,
) -> dict[str, Any]:
    """The broker model as a definitions document; users without a given hash get ``""`` (cannot log in)."""
    hashes = dict(password_hashes or {})
    accounts = all_accounts()
    users = [
        {
            "name": admin_user,
            "password_hash": hashes.get(admin_user, ""),
            "hashing_algorithm": HASHING_ALGORITHM,
            "tags": ["administrator"],
            "limits": {},
        }
    ]
    users += [
        {
            "name": a.user,
            "password_hash": hashes.get(a.user, ""),
            "hashing_algorithm": HASHING_ALGORITHM,
            "tags": list(a.tags),
            "limits": {},
        }
        for a in accounts
    ]
    permissions = [{"user": admin_user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}]
    permissions += [{"user": a.user, "vhost": vhost, **a.permissions.as_dict()} for a in accounts]
    exchanges = [
        {
            "name": name,
            "vhost": vhost,
            "type": kind,
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        }
        for service in SERVICES
        for name, kind in service_exchanges(service)
    ]
    policies = [{"vhost": vhost, "name": p.name, **p.body()} for p in POLICIES]
    return {
        "rabbit_version": "3.10.8",
        "users": users,
        "vhosts": [{"name": vhost}],
        "permissions": permissions,
        "topic_permissions": [],
        "parameters": [],
        "global_parameters": [],
        "policies": policies,
        "queues": [],
        "exchanges": exchanges,
        "bindings": [],
    }


def password_env_name(user: str) -> str:
    """Environment variable holding ``user``'s password at deploy time: ``RABBITMQ_PAYMENT_PASSWORD``."""
    return f"RABBITMQ_{user.upper().replace('-', '_')}_PASSWORD"


def definitions_from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Definitions with hashes of the passwords in ``RABBITMQ_<USER>_PASSWORD``; every one is required."""
    environ = os.environ if environ is None else environ
    users = [ADMIN_USER] + [a.user for a in all_accounts()]
    missing = [password_env_name(u) for u in users if not environ.get(password_env_name(u))]
    if missing:
        raise KeyError("set " + ", ".join(missing))
    return definitions(
        password_hashes={u: rabbit_password_hash(environ[password_env_name(u)]) for u in users}
    )
