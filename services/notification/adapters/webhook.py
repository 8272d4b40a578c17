"""Webhooks: HTTP POST of the stored JSON body, signed, with the notification id as idempotency key."""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime

import httpx

from notification.adapters.webhook_signing import IDEMPOTENCY_HEADER, signature_headers
from notification.domain.errors import PermanentDeliveryError, TransientDeliveryError
from notification.domain.model import Notification

# Worth retrying: the receiver is busy, throttling or broken for now. Any other 4xx will not get better.
_TRANSIENT_STATUS = {408, 409, 425, 429}


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class WebhookSender:
    def __init__(self, client: httpx.AsyncClient, secret: str) -> None:
        self._client = client
        self._secret = secret

    async def send(self, notification: Notification) -> None:
        body = notification.body_text.encode()
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: notification.id,
            "X-Correlation-Id": notification.correlation_id,
            **signature_headers(self._secret, body, int(time.time())),
        }
        try:
            response = await self._client.post(notification.recipient, content=body, headers=headers)
        except httpx.HTTPError as exc:  # connect error, timeout, protocol error
            raise TransientDeliveryError(f"POST {notification.recipient} failed: {exc!r}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        reason = f"POST {notification.recipient} answered {status} {response.text[:200]}".strip()
        if status >= 500 or status in _TRANSIENT_STATUS:
            raise TransientDeliveryError(
                reason, retry_after=retry_after_seconds(response.headers.get("Retry-After"))
            )
        raise PermanentDeliveryError(reason)
