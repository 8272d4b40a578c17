"""How a delivery attempt failed, classified where it happens (the SMTP or HTTP adapter)."""

from __future__ import annotations


class DeliveryError(Exception):
    """Base of delivery failures."""


class TransientDeliveryError(DeliveryError):
    """May work later (provider down, timeout, 4xx SMTP reply, HTTP 5xx/408/429): retry with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Will never work (unknown mailbox, HTTP 4xx): mark the notification failed with this reason."""
