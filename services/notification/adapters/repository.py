"""Reading and writing notifications: inside a unit of work (deciding) and as short claims (delivering)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notification.adapters.orm import notifications
from notification.domain.model import Channel, Notification, Status

# Statements built once: only the parameters change, so SQLAlchemy's compiled cache serves every call.
_BY_ID = select(notifications).where(notifications.c.id == bindparam("notification_id"))
_EXISTS = (
    select(func.count()).select_from(notifications).where(notifications.c.id == bindparam("notification_id"))
)
_INSERT = notifications.insert()
_STALLED = (
    select(notifications)
    .where(notifications.c.status.in_([Status.PENDING.value, Status.SENDING.value]))
    .where(func.coalesce(notifications.c.claimed_at, notifications.c.created_at) < bindparam("older_than"))
    .order_by(notifications.c.created_at)
    .limit(bindparam("limit"))
)
# Optimistic concurrency: ``attempts`` is the version; a final (sent, failed) row never changes again.
_SAVE_IF_VERSION = (
    update(notifications)
    .where(notifications.c.id == bindparam("b_id"))
    .where(notifications.c.attempts == bindparam("b_version"))
    .where(notifications.c.status.notin_([Status.SENT.value, Status.FAILED.value]))
    .values({column.name: bindparam(column.name) for column in notifications.c if column.name != "id"})
)


def _to_row(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "dedupe_key": notification.dedupe_key,
        "channel": notification.channel.value,
        "recipient": notification.recipient,
        "template": notification.template,
        "subject": notification.subject,
        "body_text": notification.body_text,
        "body_html": notification.body_html,
        "correlation_id": notification.correlation_id,
        "status": notification.status.value,
        "attempts": notification.attempts,
        "last_error": notification.last_error,
        "claimed_by": notification.claimed_by,
        "claimed_at": notification.claimed_at,
        "created_at": notification.created_at,
        "sent_at": notification.sent_at,
        "failed_at": notification.failed_at,
    }


def _from_row(row: Row[Any]) -> Notification:
    data = dict(row._mapping)
    data["channel"] = Channel(data["channel"])
    data["status"] = Status(data["status"])
    return Notification(**data)


class NotificationRepository:
    """Notifications on a unit of work's connection (or any connection in a transaction)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, notification_id: str) -> Notification | None:
        return await _load(self._connection, notification_id)

    async def exists(self, notification_id: str) -> bool:
        return bool(
            (await self._connection.execute(_EXISTS, {"notification_id": notification_id})).scalar_one()
        )

    async def add(self, notification: Notification) -> None:
        await self._connection.execute(_INSERT, _to_row(notification))

    async def stalled(self, older_than: datetime, limit: int) -> list[Notification]:
        """Pending or sending notifications untouched since ``older_than`` (their task may have been lost)."""
        result = await self._connection.execute(_STALLED, {"older_than": older_than, "limit": limit})
        return [_from_row(row) for row in result.all()]


class DeliveryStore:
    """Short transactions for the delivery task: claim, then record the outcome (optimistic concurrency).

    ``attempts`` doubles as the row version: an update only applies if nobody claimed the row in between.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def load(self, notification_id: str) -> Notification | None:
        async with self._engine.connect() as connection:
            return await _load(connection, notification_id)

    async def claim(
        self, notification_id: str, task_id: str, now: datetime, lease: timedelta
    ) -> tuple[Notification | None, bool]:
        """``(notification, claimed)``: claimed is False if it is final or another live task holds it."""
        async with self._engine.begin() as connection:
            current = await _load(connection, notification_id)
            if current is None or not current.can_be_claimed_by(task_id, now, lease):
                return current, False
            version = current.attempts
            current.claim(task_id, now)
            applied = await _save_if_version(connection, current, version)
            return current, applied

    async def save(self, notification: Notification) -> bool:
        """Record a claimed notification's outcome; False if another task took it over meanwhile."""
        async with self._engine.begin() as connection:
            return await _save_if_version(connection, notification, notification.attempts)

    async def delete_finished_before(self, before: datetime, batch: int = 500) -> int:
        """Retention: drop sent/failed rows older than ``before``, one small batch per transaction."""
        deleted = 0
        while True:
            async with self._engine.begin() as connection:
                ids: Sequence[str] = (
                    (
                        await connection.execute(
                            select(notifications.c.id)
                            .where(notifications.c.status.in_([Status.SENT.value, Status.FAILED.value]))
                            .where(notifications.c.created_at < before)
                            .limit(batch)
                        )
                    )
                    .scalars()
                    .all()
                )
                if not ids:
                    return deleted
                result = await connection.execute(delete(notifications).where(notifications.c.id.in_(ids)))
                deleted += result.rowcount


async def _load(connection: AsyncConnection, notification_id: str) -> Notification | None:
    row = (await connection.execute(_BY_ID, {"notification_id": notification_id})).first()
    return _from_row(row) if row is not None else None


async def _save_if_version(connection: AsyncConnection, notification: Notification, version: int) -> bool:
    params = _to_row(notification)
    del params["id"]
    result = await connection.execute(
        _SAVE_IF_VERSION, {**params, "b_id": notification.id, "b_version": version}
    )
    return result.rowcount == 1
