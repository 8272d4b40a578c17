"""Fixtures for the ops tests: Warren's broker model applied to a fresh vhost with throw-away users."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from shared.testing.fixtures import AMQP_BASE, MANAGEMENT_URL
from warrenctl import broker_setup
from warrenctl.access import ServiceAccess, all_accounts
from warrenctl.broker_admin import BrokerAdmin
from warrenctl.runenv import amqp_url


@dataclass(frozen=True)
class AppliedModel:
    vhost: str
    accounts: dict[str, ServiceAccess]  # by service name (and "operator")
    passwords: dict[str, str]  # by user name

    def url(self, service: str) -> str:
        """AMQP URL of ``service``'s own user on the test vhost."""
        user = self.accounts[service].user
        return amqp_url(user, self.passwords[user], urlsplit(AMQP_BASE).netloc.split("@")[-1], self.vhost)


@pytest.fixture
def broker_admin() -> Iterator[BrokerAdmin]:
    with BrokerAdmin(MANAGEMENT_URL, "guest", "guest") as admin:
        yield admin


@pytest.fixture
def applied_model(vhost: str, broker_admin: BrokerAdmin) -> Iterator[AppliedModel]:
    """The same set-up `make run` applies, on this test's vhost; users are unique and deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    accounts = all_accounts(prefix)
    passwords = {account.user: broker_setup.generate_password() for account in accounts}
    try:
        broker_setup.apply(broker_admin, passwords, vhost=vhost, accounts=accounts)
        yield AppliedModel(vhost, {a.service: a for a in accounts}, passwords)
    finally:
        for account in accounts:
            broker_admin.delete_user(account.user)


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    # rich sizes tables to the terminal; without one (pytest-xdist workers) it falls back to 80 columns and
    # truncates the cells these tests read. Operators get their real width.
    from warrenctl import terminal

    monkeypatch.setattr(terminal.console, "width", 200)
