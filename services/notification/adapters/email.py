"""Email over real SMTP (smtplib in a thread), with SMTP replies classified as transient or permanent."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

from notification.domain.errors import PermanentDeliveryError, TransientDeliveryError
from notification.domain.model import Notification


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 1025
    sender: str = "Warren Shop <no-reply@warren.local>"
    timeout: float = 10.0
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    message_id_domain: str = "notification.warren.local"


def message_id(notification: Notification, domain: str) -> str:
    """Stable per notification, so a resend after a crash is recognisable as the same email downstream."""
    return f"<{notification.id}@{domain}>"


def build_email(notification: Notification, config: SmtpConfig) -> EmailMessage:
    email = EmailMessage()
    name, address = parseaddr(config.sender)
    email["From"] = formataddr((name, address))
    email["To"] = notification.recipient
    email["Subject"] = notification.subject or ""
    email["Message-ID"] = message_id(notification, config.message_id_domain)
    email["Date"] = format_datetime(notification.created_at)
    email["X-Warren-Notification-Id"] = notification.id
    email["X-Correlation-Id"] = notification.correlation_id
    email.set_content(notification.body_text)
    if notification.body_html:
        email.add_alternative(notification.body_html, subtype="html")
    return email


def _classify(code: int, text: str) -> Exception:
    message = f"SMTP {code} {text}".strip()
    return PermanentDeliveryError(message) if 500 <= code < 600 else TransientDeliveryError(message)


class SmtpEmailSender:
    """Sends one email per call over a fresh SMTP connection (no shared state between worker threads)."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.provider = f"smtp://{config.host}:{config.port}"

    async def send(self, notification: Notification) -> None:
        await asyncio.to_thread(self._send, build_email(notification, self.config))

    def _send(self, email: EmailMessage) -> None:
        config = self.config
        try:
            with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
                if config.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if config.username:
                    smtp.login(config.username, config.password or "")
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _classify(code, _text(text)) from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, data error, auth error, ...
            raise _classify(exc.smtp_code, _text(exc.smtp_error)) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out, disconnected
            raise TransientDeliveryError(f"SMTP {config.host}:{config.port} unreachable: {exc!r}") from exc


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
