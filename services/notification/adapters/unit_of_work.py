"""SQLAlchemy unit of work for the deciding handlers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification.adapters.repository import NotificationRepository


@dataclass(frozen=True)
class TaskDispatch:
    name: str
    queue: str
    args: Sequence[Any] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    exchange: str = ""


class SqlNotificationUnitOfWork:
    """One session and transaction per ``async with``; task dispatches are collected until commit."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self.dispatched: list[TaskDispatch] = []
        self._pending: list[TaskDispatch] = []

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        self.notifications = NotificationRepository(self._session)
        self._pending = []
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._session.rollback()
        await self._session.close()
        self._pending = []

    async def commit(self) -> None:
        await self._session.commit()
        self.dispatched.extend(self._pending)
        self._pending = []

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
