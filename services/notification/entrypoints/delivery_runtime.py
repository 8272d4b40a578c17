"""What a Celery worker process needs to deliver: an event loop, the database, the channel gateways.

Built lazily on the first task in each worker process (after the fork), never at import.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from notification.adapters.email import SmtpConfig, SmtpEmailSender
from notification.adapters.guarded_sender import GuardedSender, Providers, provider_of
from notification.adapters.repository import DeliveryStore
from notification.adapters.webhook import WebhookSender
from notification.config import NotificationSettings
from notification.domain.model import Channel
from notification.service_layer.delivery import Sender
from shared.persistence.engine import create_engine

log = logging.getLogger(__name__)
T = TypeVar("T")


class DeliveryRuntime:
    """One per worker process: an asyncio runner so the async store and gateways run in sync tasks."""

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings
        self._runner = asyncio.Runner()
        self._engine: AsyncEngine | None = None
        self._http: httpx.AsyncClient | None = None
        self._senders: dict[Channel, Sender] = {}
        self.lease = timedelta(seconds=settings.sending_lease_seconds)
        # A breaker per provider (the SMTP server, each webhook host), per worker process.
        self._providers = Providers(
            fail_max=settings.breaker_failure_threshold,
            reset_timeout=settings.breaker_reset_seconds,
            # The gateway's own timeout fires first; this one bounds anything that slips past it.
            timeout=max(settings.smtp_timeout_seconds, settings.webhook_timeout_seconds) + 5,
        )

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coroutine)

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_engine(self.settings.database_url, pool_size=2, max_overflow=2)
        return self._engine

    @property
    def store(self) -> DeliveryStore:
        return DeliveryStore(self.engine)

    def sender(self, channel: Channel) -> Sender:
        sender = self._senders.get(channel)
        if sender is None:
            inner = self._build_sender(channel)
            email_provider = f"smtp:{self.settings.smtp_host}:{self.settings.smtp_port}"
            sender = GuardedSender(
                inner,
                lambda notification: self._providers.dependency(provider_of(notification, email_provider)),
            )
            self._senders[channel] = sender
        return sender

    def _build_sender(self, channel: Channel) -> Sender:
        settings = self.settings
        if channel is Channel.EMAIL:
            return SmtpEmailSender(
                SmtpConfig(
                    host=settings.smtp_host,
                    port=settings.smtp_port,
                    sender=settings.smtp_sender,
                    timeout=settings.smtp_timeout_seconds,
                    starttls=settings.smtp_starttls,
                    username=settings.smtp_username,
                    password=settings.smtp_password,
                )
            )
        self._http = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
        return WebhookSender(self._http, settings.webhook_secret)

    def close(self) -> None:
        async def _close() -> None:
            if self._http is not None:
                await self._http.aclose()
            if self._engine is not None:
                await self._engine.dispose()

        try:
            self.run(_close())
        finally:
            self._runner.close()
