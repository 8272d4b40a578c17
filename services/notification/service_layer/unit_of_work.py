"""What the deciding handlers need from a unit of work: the notifications, a task dispatch, one commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, Self

from notification.domain.model import Notification


class Notifications(Protocol):
    async def get(self, notification_id: str) -> Notification | None: ...

    async def exists(self, notification_id: str) -> bool: ...

    async def add(self, notification: Notification) -> None: ...


class NotificationUnitOfWork(Protocol):
    """State, outbox rows (task dispatches) and the inbox mark are written by one ``commit``."""

    notifications: Notifications

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def commit(self) -> None: ...

    def dispatch_task(
        self,
        task: str,
        *,
        queue: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        exchange: str = "",
        routing_key: str | None = None,
    ) -> None:
        """Queue a Celery task that is published only if (and after) this unit of work commits."""
        ...
