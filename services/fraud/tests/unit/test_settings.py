from __future__ import annotations

import pytest

from fraud.config import FraudSettings


def test_rules_follow_the_environment_when_fraud_variables_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUD_REVIEW_COUNTRIES", '["xx", "YY"]')
    monkeypatch.setenv("FRAUD_BLOCKED_EMAIL_DOMAINS", '["Evil.example"]')
    monkeypatch.setenv("FRAUD_REJECT_AMOUNT", "5000")
    monkeypatch.setenv("FRAUD_VELOCITY_LIMIT", "2")
    rules = FraudSettings().rules()
    assert rules.review_countries == {"XX", "YY"}
    assert rules.blocked_email_domains == {"evil.example"}
    assert (rules.reject_amount, rules.velocity_limit, rules.velocity_window_seconds) == (5000, 2, 600.0)


def test_defaults_match_the_issue_when_nothing_is_set() -> None:
    settings = FraudSettings()
    rules = settings.rules()
    assert rules.reject_amount == 1_000_000
    assert "blocked.example" in rules.blocked_email_domains
    assert (rules.velocity_limit, rules.velocity_window_seconds) == (5, 600.0)
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8002)
