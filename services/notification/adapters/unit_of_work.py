"""The notification unit of work: notifications, task dispatches (outbox rows) and the inbox mark, one commit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notification.adapters.repository import NotificationRepository
from shared.persistence.unit_of_work import SqlUnitOfWork

PRODUCER = "notification"


class NotificationUnitOfWork(SqlUnitOfWork):
    """``dispatch_task`` (from :class:`SqlUnitOfWork`) writes a Celery task message to the outbox."""

    notifications: NotificationRepository

    def __init__(self, engine: AsyncEngine, *, correlation_id: str | None = None) -> None:
        super().__init__(engine, producer=PRODUCER, correlation_id=correlation_id)

    def start_repositories(self, connection: AsyncConnection) -> None:
        self.notifications = NotificationRepository(connection)
