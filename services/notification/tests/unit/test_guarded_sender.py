from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notification.adapters.guarded_sender import GuardedSender, Providers, provider_of
from notification.domain.errors import PermanentDeliveryError, TransientDeliveryError
from notification.domain.model import Channel, Notification
from notification.tests.unit.fakes import RecordingSender


def email(nid: str = "n1") -> Notification:
    return Notification(
        id=nid,
        dedupe_key="k",
        channel=Channel.EMAIL,
        recipient="ada@example.com",
        template="t",
        subject="s",
        body_text="b",
        body_html=None,
        correlation_id="c",
        created_at=datetime(2026, 11, 28, tzinfo=UTC),
    )


def guarded(inner: RecordingSender, fail_max: int = 2) -> GuardedSender:
    providers = Providers(fail_max=fail_max, reset_timeout=60, timeout=5)
    return GuardedSender(inner, lambda n: providers.dependency(provider_of(n, "smtp:mail:25")))


async def test_provider_is_not_called_when_its_breaker_opened_after_transient_failures() -> None:
    inner = RecordingSender(TransientDeliveryError("down"), TransientDeliveryError("down"))
    sender = guarded(inner)
    for _ in range(2):
        with pytest.raises(TransientDeliveryError, match="down"):
            await sender.send(email())
    with pytest.raises(TransientDeliveryError, match="circuit open") as raised:
        await sender.send(email())
    assert raised.value.retry_after is not None
    assert raised.value.retry_after > 0
    assert inner.sent == []  # the third call never reached the provider


async def test_breaker_stays_closed_when_failures_are_permanent() -> None:
    inner = RecordingSender(
        PermanentDeliveryError("550"), PermanentDeliveryError("550"), PermanentDeliveryError("550")
    )
    sender = guarded(inner)
    for _ in range(3):
        with pytest.raises(PermanentDeliveryError):
            await sender.send(email())
    await sender.send(email())
    assert inner.sent == ["n1"]


def test_each_webhook_host_is_its_own_provider_when_guarded() -> None:
    hook = email()
    hook.channel = Channel.WEBHOOK
    hook.recipient = "https://merchant.example:8443/hooks?x=1"
    assert provider_of(hook, "smtp:mail:25") == "webhook:merchant.example:8443"
    assert provider_of(email(), "smtp:mail:25") == "smtp:mail:25"
