from __future__ import annotations

import smtplib
from datetime import UTC, datetime

import httpx
import pytest

from notification.adapters.email import SmtpConfig, SmtpEmailSender, build_email
from notification.adapters.webhook import WebhookSender, retry_after_seconds
from notification.adapters.webhook_signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    InvalidSignature,
    sign,
    signature_headers,
    verify,
)
from notification.domain.errors import PermanentDeliveryError, TransientDeliveryError
from notification.domain.model import Channel, Notification

SECRET = "s3cret"


def webhook_notification() -> Notification:
    return Notification(
        id="n1",
        dedupe_key="k",
        channel=Channel.WEBHOOK,
        recipient="https://merchant.example/hooks",
        template="webhook",
        subject=None,
        body_text='{"a":1}',
        body_html=None,
        correlation_id="c",
        created_at=datetime(2026, 11, 28, tzinfo=UTC),
    )


def test_signature_verifies_when_body_and_secret_match() -> None:
    headers = signature_headers(SECRET, b'{"a":1}', timestamp=1_000)
    verify(SECRET, b'{"a":1}', headers, now=1_010)


@pytest.mark.parametrize(
    ("secret", "body", "now", "why"),
    [
        ("other", b'{"a":1}', 1_010, "does not match"),
        (SECRET, b'{"a":2}', 1_010, "does not match"),
        (SECRET, b'{"a":1}', 1_000 + 301, "off"),
    ],
)
def test_signature_is_refused_when_secret_body_or_age_is_wrong(
    secret: str, body: bytes, now: int, why: str
) -> None:
    headers = signature_headers(SECRET, b'{"a":1}', timestamp=1_000)
    with pytest.raises(InvalidSignature, match=why):
        verify(secret, body, headers, now=now)


def test_signature_is_refused_when_headers_are_missing() -> None:
    with pytest.raises(InvalidSignature, match="missing"):
        verify(SECRET, b"x", {TIMESTAMP_HEADER: "1"}, now=1)


def test_signature_covers_the_timestamp_when_computed() -> None:
    assert sign(SECRET, b"x", 1) != sign(SECRET, b"x", 2)
    assert sign(SECRET, b"x", 1).startswith("v1=")


def _sender(handler: httpx.MockTransport) -> WebhookSender:
    return WebhookSender(httpx.AsyncClient(transport=handler), SECRET)


async def test_webhook_is_signed_with_an_idempotency_key_when_posted() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    await _sender(httpx.MockTransport(handle)).send(webhook_notification())
    [request] = seen
    assert request.headers[IDEMPOTENCY_HEADER] == "n1"
    verify(SECRET, request.content, dict(request.headers))
    assert request.headers[SIGNATURE_HEADER].startswith("v1=")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, TransientDeliveryError),
        (503, TransientDeliveryError),
        (429, TransientDeliveryError),
        (408, TransientDeliveryError),
        (400, PermanentDeliveryError),
        (404, PermanentDeliveryError),
        (410, PermanentDeliveryError),
        (301, PermanentDeliveryError),
    ],
)
async def test_webhook_error_is_classified_when_the_receiver_answers(
    status: int, error: type[Exception]
) -> None:
    sender = _sender(
        httpx.MockTransport(lambda request: httpx.Response(status, headers={"Retry-After": "7"}))
    )
    with pytest.raises(error) as raised:
        await sender.send(webhook_notification())
    if isinstance(raised.value, TransientDeliveryError):
        assert raised.value.retry_after == 7


async def test_webhook_error_is_transient_when_the_receiver_is_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(TransientDeliveryError):
        await _sender(httpx.MockTransport(refuse)).send(webhook_notification())


def test_retry_after_is_read_when_given_as_seconds_or_garbage() -> None:
    assert retry_after_seconds("12") == 12
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None


def test_email_has_a_stable_message_id_and_both_parts_when_built() -> None:
    notification = Notification(
        id="n1",
        dedupe_key="k",
        channel=Channel.EMAIL,
        recipient="ada@example.com",
        template="t",
        subject="Hello",
        body_text="plain",
        body_html="<p>html</p>",
        correlation_id="c",
        created_at=datetime(2026, 11, 28, tzinfo=UTC),
    )
    email = build_email(notification, SmtpConfig(message_id_domain="d.test"))
    assert email["Message-ID"] == "<n1@d.test>"
    assert (
        build_email(notification, SmtpConfig(message_id_domain="d.test"))["Message-ID"] == email["Message-ID"]
    )
    assert email.get_body(("plain",)) is not None
    assert email.get_body(("html",)) is not None


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (smtplib.SMTPRecipientsRefused({"a@b": (550, b"no such user")}), PermanentDeliveryError),
        (smtplib.SMTPRecipientsRefused({"a@b": (451, b"try later")}), TransientDeliveryError),
        (smtplib.SMTPDataError(554, b"rejected"), PermanentDeliveryError),
        (smtplib.SMTPDataError(421, b"busy"), TransientDeliveryError),
        (smtplib.SMTPServerDisconnected("gone"), TransientDeliveryError),
        (ConnectionRefusedError(111, "refused"), TransientDeliveryError),
        (TimeoutError("slow"), TransientDeliveryError),
    ],
)
async def test_smtp_error_is_classified_when_sending_fails(
    raised: Exception, error: type[Exception], monkeypatch: pytest.MonkeyPatch
) -> None:
    class BrokenSMTP:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def __enter__(self) -> BrokenSMTP:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def send_message(self, message: object) -> None:
            raise raised

    monkeypatch.setattr(smtplib, "SMTP", BrokenSMTP)
    notification = Notification(
        id="n1",
        dedupe_key="k",
        channel=Channel.EMAIL,
        recipient="a@b",
        template="t",
        subject="s",
        body_text="t",
        body_html=None,
        correlation_id="c",
        created_at=datetime(2026, 11, 28, tzinfo=UTC),
    )
    with pytest.raises(error):
        await SmtpEmailSender(SmtpConfig()).send(notification)
