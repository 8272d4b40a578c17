"""A channel gateway behind its provider's circuit breaker, timeout and bulkhead (shared.resilience).

Retrying is Celery's job (a countdown that waits in the broker, see docs/notification.md), so the dependency
makes one attempt per task run. The breaker counts transient failures only: a refused mailbox or a 4xx says
the provider is healthy. While it is open, tasks are retried later without touching the provider.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from notification.domain.errors import PermanentDeliveryError, TransientDeliveryError
from notification.domain.model import Notification
from notification.service_layer.delivery import Sender
from shared.resilience import (
    NO_RETRY,
    BreakerPolicy,
    BusinessOutcome,
    Dependency,
    DependencyRejected,
    DependencyTimeout,
    PermanentDependencyError,
)


def provider_of(notification: Notification, email_provider: str) -> str:
    """Which provider a notification goes through: the SMTP server, or the webhook's host."""
    if notification.channel.value == "webhook":
        return f"webhook:{urlsplit(notification.recipient).netloc}"
    return email_provider


class GuardedSender:
    """Sends through ``sender`` inside the :class:`Dependency` of the notification's provider."""

    def __init__(self, sender: Sender, dependency_for: Callable[[Notification], Dependency]) -> None:
        self._sender = sender
        self._dependency_for = dependency_for

    async def send(self, notification: Notification) -> None:
        dependency = self._dependency_for(notification)
        try:
            await dependency.call(self._sender.send, notification)
        except DependencyRejected as exc:  # breaker open, or no bulkhead slot: the provider was not called
            raise TransientDeliveryError(str(exc), retry_after=exc.retry_after) from exc
        except DependencyTimeout as exc:
            raise TransientDeliveryError(str(exc)) from exc


class Providers:
    """One :class:`Dependency` per provider, built on first use, kept for the worker process's life."""

    def __init__(self, *, fail_max: int, reset_timeout: float, timeout: float) -> None:
        self._policy = BreakerPolicy(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            exclude=(PermanentDeliveryError, PermanentDependencyError, BusinessOutcome),
        )
        self._timeout = timeout
        self._dependencies: dict[str, Dependency] = {}

    def dependency(self, name: str) -> Dependency:
        dependency = self._dependencies.get(name)
        if dependency is None:
            dependency = Dependency(name, breaker=self._policy, retry=NO_RETRY, timeout=self._timeout)
            self._dependencies[name] = dependency
        return dependency
