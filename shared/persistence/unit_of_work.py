"""The unit of work every service's service layer uses: one transaction for state, outbox rows and inbox mark.

A service subclasses :class:`SqlUnitOfWork`, builds its repositories on the unit of work's connection in
:meth:`~SqlUnitOfWork.start_repositories` and writes its state in :meth:`~SqlUnitOfWork.flush_state`. Domain entities record events in their ``events`` list;
``commit()`` moves them into the outbox in the same transaction. Leaving the block without ``commit()`` rolls back
and emits nothing. See docs/outbox-inbox.md for a complete handler.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.contracts.base import Contract
from shared.inbox.store import mark_handled
from shared.messaging.envelope import Envelope
from shared.observability.tracing import current_traceparent
from shared.outbox.messages import event_row, task_row
from shared.outbox.signal import signal_for
from shared.outbox.writer import write_outbox_rows
from shared.persistence.engine import is_sqlite, write_turn
from shared.persistence.metadata import utcnow
from shared.persistence.repository import TrackingRepository


class Aggregate(Protocol):
    """A domain entity that records events: ``id`` orders its events, ``events`` holds the unpublished ones."""

    @property
    def id(self) -> object: ...

    @property
    def events(self) -> list[Any]: ...


class AlreadyHandled(Exception):
    """Raised on entering a unit of work bound (``for_message``) to a message its handler already handled."""


@dataclass(frozen=True)
class _Recorded:
    event: Contract
    aggregate_id: str | None


@dataclass(frozen=True)
class _Task:
    name: str
    args: Sequence[Any]
    kwargs: Mapping[str, Any]
    queue: str
    aggregate_id: str | None
    exchange: str
    routing_key: str | None


class SqlUnitOfWork:
    """``async with uow:`` opens a connection; ``await uow.commit()`` writes state + outbox (+ inbox) atomically.

    Repositories run SQLAlchemy Core statements on :attr:`connection`. A connection, not an ``AsyncSession``: a
    session sends every Core statement through the ORM execution path and its own transaction bookkeeping, CPU
    spent on every statement for nothing Core needs.
    """

    connection: AsyncConnection
    # PostgreSQL: NOTIFY relays in other processes at commit. A service whose only relay runs in its own process
    # (woken in-process) may set this False to save a round trip per commit.
    notify_relays: bool = True

    def __init__(self, engine: AsyncEngine, *, producer: str, correlation_id: str | None = None) -> None:
        self.engine = engine
        self._sqlite = is_sqlite(engine)
        self.producer = producer
        # Correlation for work not caused by a message (an HTTP request passes its X-Correlation-Id here).
        self.correlation_id = correlation_id
        self.message: Envelope | None = None
        self._handler: str | None = None
        self._raise_if_handled = False
        self.first_time = True
        self._pending: list[_Recorded | _Task] = []
        self._turn: contextlib.AbstractAsyncContextManager[None] | None = None

    # -- hooks for subclasses -------------------------------------------------------------------------------

    def start_repositories(self, connection: AsyncConnection) -> None:
        """Build this unit of work's repositories on ``connection`` (called on every ``async with``)."""

    def tracked_aggregates(self) -> Iterable[Aggregate]:
        """Every aggregate loaded or added in this unit of work; default: the ``seen`` of each repository."""
        for value in vars(self).values():
            if isinstance(value, TrackingRepository):
                yield from value.seen.values()

    async def flush_state(self) -> None:
        """Write this unit of work's state changes (default: nothing, for repositories that write as they go).
        Runs first in commit()."""

    # -- binding to the message being handled ---------------------------------------------------------------

    def for_message(self, envelope: Envelope, *, handler: str) -> Self:
        """Bind to the message being handled: its inbox mark commits with the state, events inherit its
        correlation, and entering raises :class:`AlreadyHandled` when ``handler`` already handled it."""
        self.message = envelope
        self._handler = handler
        self._raise_if_handled = True
        return self

    @contextlib.asynccontextmanager
    async def handling(self, envelope: Envelope, *, handler: str) -> AsyncIterator[bool]:
        """``async with uow.handling(envelope, handler="payment.on_fraud") as first_time:``; the body does
        nothing (and the message is acked) when ``first_time`` is False."""
        self.message = envelope
        self._handler = handler
        self._raise_if_handled = False
        async with self:
            yield self.first_time

    # -- the unit of work -----------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._pending = []
        self.first_time = True
        # SQLite: this process's units of work write one after another (see write_turn); the turn lasts until the
        # connection is closed, as long as SQLite's write lock (BEGIN IMMEDIATE at the first statement).
        self._turn = write_turn(self.engine) if self._sqlite else None
        if self._turn is not None:
            await self._turn.__aenter__()
        try:
            # The transaction begins at the first statement (SQLAlchemy's autobegin), as the session's did: a unit
            # of work that runs no statement costs no round trip.
            self.connection = await self.engine.connect()
        except BaseException:
            await self._release_turn()
            raise
        try:
            self.start_repositories(self.connection)
            if self.message is not None and self._handler is not None:
                # The mark goes first: on PostgreSQL a concurrent duplicate blocks here until this commits.
                self.first_time = await mark_handled(
                    self.connection,
                    handler=self._handler,
                    message_id=str(self.message.message_id),
                    message_type=self.message.type,
                )
                if not self.first_time and self._raise_if_handled:
                    raise AlreadyHandled(f"{self._handler} already handled message {self.message.message_id}")
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Closing rolls back whatever was not committed: no state, no outbox rows, no inbox mark.
        self._pending = []
        await self._close()

    async def _close(self) -> None:
        try:
            await self.connection.close()
        finally:
            await self._release_turn()

    async def _release_turn(self) -> None:
        if self._turn is not None:
            turn, self._turn = self._turn, None
            await turn.__aexit__(None, None, None)

    def record(self, event: Contract, *, aggregate_id: object | None = None) -> None:
        """Record an event not held by a tracked aggregate; it is written to the outbox at commit."""
        self._pending.append(_Recorded(event, None if aggregate_id is None else str(aggregate_id)))

    def dispatch_task(
        self,
        task: str,
        *,
        queue: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        aggregate_id: object | None = None,
        exchange: str = "",
        routing_key: str | None = None,
    ) -> None:
        """Enqueue Celery task ``task`` on ``queue`` once this unit of work commits (through the outbox)."""
        self._pending.append(
            _Task(
                task,
                list(args),
                dict(kwargs or {}),
                queue,
                None if aggregate_id is None else str(aggregate_id),
                exchange,
                routing_key,
            )
        )

    def collect_new_events(self) -> list[tuple[str | None, Contract]]:
        """Take the events recorded by tracked aggregates (emptying their lists), in recording order."""
        collected: list[tuple[str | None, Contract]] = []
        for aggregate in self.tracked_aggregates():
            events = aggregate.events
            collected.extend((str(aggregate.id), event) for event in events)
            events.clear()
        return collected

    async def commit(self) -> None:
        """Write state, then the outbox rows for every recorded event and task, and commit them together."""
        await self.flush_state()
        rows = self._outbox_rows()
        if rows:
            await write_outbox_rows(self.connection, rows, notify=self.notify_relays)
        await self.connection.commit()
        self._pending = []
        if rows:
            signal_for(self.engine).notify()

    async def rollback(self) -> None:
        """Discard everything since the last commit."""
        self._pending = []
        await self.connection.rollback()

    def _outbox_rows(self) -> list[dict[str, Any]]:
        recorded: list[_Recorded | _Task] = [_Recorded(e, key) for key, e in self.collect_new_events()]
        recorded.extend(self._pending)
        if not recorded:
            return []
        now = utcnow()
        correlation_id, causation_id, traceparent = self._causality()
        rows: list[dict[str, Any]] = []
        for item in recorded:
            if isinstance(item, _Recorded):
                rows.append(
                    event_row(
                        item.event,
                        aggregate_id=item.aggregate_id,
                        correlation_id=correlation_id,
                        causation_id=causation_id,
                        traceparent=traceparent,
                        created_at=now,
                    )
                )
            else:
                rows.append(
                    task_row(
                        item.name,
                        args=item.args,
                        kwargs=item.kwargs,
                        queue=item.queue,
                        producer=self.producer,
                        aggregate_id=item.aggregate_id,
                        correlation_id=correlation_id,
                        causation_id=causation_id,
                        traceparent=traceparent,
                        created_at=now,
                        exchange=item.exchange,
                        routing_key=item.routing_key,
                    )
                )
        return rows

    def _causality(self) -> tuple[str, str | None, str | None]:
        traceparent = current_traceparent()  # of the active span, if tracing is on
        if self.message is not None:
            return (
                self.message.correlation_id,
                str(self.message.message_id),
                traceparent or self.message.traceparent,
            )
        if self.correlation_id is None:
            self.correlation_id = str(uuid.uuid4())
        return self.correlation_id, None, traceparent
