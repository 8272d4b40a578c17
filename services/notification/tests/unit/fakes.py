"""In-memory stand-ins for the database, the unit of work and the channel gateways."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Self

from notification.domain.model import Notification


@dataclass(frozen=True)
class TaskDispatch:
    name: str
    queue: str
    args: Sequence[Any] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    exchange: str = ""


class FakeNotifications:
    def __init__(self, rows: dict[str, Notification]) -> None:
        self.rows = rows

    async def get(self, notification_id: str) -> Notification | None:
        return self.rows.get(notification_id)

    async def exists(self, notification_id: str) -> bool:
        return notification_id in self.rows

    async def add(self, notification: Notification) -> None:
        if notification.id in self.rows:
            raise AssertionError(f"unique constraint violated by {notification.id}")
        self.rows[notification.id] = notification


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.committed: dict[str, Notification] = {}
        self.dispatched: list[TaskDispatch] = []
        self.commits = 0

    async def __aenter__(self) -> Self:
        self._staged = dict(self.committed)
        self._pending: list[TaskDispatch] = []
        self.notifications = FakeNotifications(self._staged)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._pending = []

    async def commit(self) -> None:
        self.committed = dict(self._staged)
        self.dispatched.extend(self._pending)
        self.commits += 1

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
        self._pending.append(
            TaskDispatch(
                name=task, queue=queue, args=tuple(args), kwargs=dict(kwargs or {}), exchange=exchange
            )
        )


class FakeStore:
    """Same claim rules as the SQL store (attempts as version), on a dict."""

    def __init__(self, *notifications: Notification) -> None:
        self.rows = {n.id: copy.deepcopy(n) for n in notifications}

    async def claim(
        self, notification_id: str, task_id: str, now: datetime, lease: timedelta
    ) -> tuple[Notification | None, bool]:
        current = copy.deepcopy(self.rows.get(notification_id))
        if current is None or not current.can_be_claimed_by(task_id, now, lease):
            return current, False
        current.claim(task_id, now)
        self.rows[notification_id] = copy.deepcopy(current)
        return current, True

    async def save(self, notification: Notification) -> bool:
        stored = self.rows[notification.id]
        if stored.attempts != notification.attempts or stored.is_final:
            return False
        self.rows[notification.id] = copy.deepcopy(notification)
        return True


class RecordingSender:
    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.sent: list[str] = []

    async def send(self, notification: Notification) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(notification.id)
