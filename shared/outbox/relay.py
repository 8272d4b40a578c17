"""The outbox relay: publishes committed rows with publisher confirms and marks them sent after the confirm.

At-least-once: a crash between the confirm and the mark publishes the row again (consumers' inboxes absorb it).
Per aggregate, rows go out one after another in commit order, also with several relays (see
:mod:`shared.outbox.claims`). Wakes on commit (in-process signal, PostgreSQL ``LISTEN``), polls as a fallback,
and backs off while the broker is down without losing or reordering anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aio_pika.abc import AbstractChannel, AbstractConnection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.inbox.store import sweep_inbox
from shared.messaging.connection import confirm_channel
from shared.messaging.errors import PublishError, UnroutableMessage
from shared.outbox import claims, metrics
from shared.outbox.admin import outbox_stats
from shared.outbox.messages import to_message
from shared.outbox.retention import sweep_sent
from shared.outbox.sender import BrokerRefused, MessageSender, MessageTooLarge
from shared.outbox.signal import NOTIFY_CHANNEL, notify_payload, signal_for
from shared.persistence.engine import is_sqlite, write_turn
from shared.persistence.metadata import utcnow

log = logging.getLogger(__name__)

# Test hook for the crash fault test: SIGKILL this process right after a batch's confirms, before the mark.
KILL_AFTER_CONFIRM_ENV = "WARREN_OUTBOX_KILL_AFTER_CONFIRM"


@dataclass(frozen=True)
class RelaySettings:
    """How the relay batches, waits, backs off, and when it gives up on a row."""

    batch_size: int = 500
    poll_interval: float = 1.0  # fallback when no wake-up signal arrives
    backoff_initial: float = 0.2
    backoff_max: float = 10.0
    # SQLite: one relay at a time holds this lease; another waits for it to lapse (or be released on stop).
    lease_ttl: timedelta = timedelta(seconds=10)
    lease_name: str = "outbox-relay"
    max_message_bytes: int = 16 * 1024 * 1024
    max_refusals: int = 10  # nacks / missing exchange before a row is marked failed
    # True: a failed row holds the later rows of its aggregate until an operator retries or discards it.
    hold_aggregate_on_failure: bool = False
    sent_retention: timedelta = timedelta(days=1)
    inbox_retention: timedelta = timedelta(days=7)
    housekeeping_interval: float = 300.0
    stats_interval: float = 5.0


class BrokerUnavailable(Exception):
    """Rows could not be published for a transient reason; the relay backs off and tries again."""


# Transient failures the relay backs off from: the broker, or the database (through SQLAlchemy or its driver).
_BACK_OFF: tuple[type[BaseException], ...] = (BrokerUnavailable, *claims.DATABASE_ERRORS)


@dataclass
class _Outcome:
    sent: list[int]
    failed: dict[int, str]
    refused: dict[int, str]
    transient: str | None = None


class OutboxRelay:
    """A service component (``start``/``stop``) relaying its database's outbox to RabbitMQ."""

    name = "outbox-relay"

    def __init__(
        self,
        engine: AsyncEngine,
        connection: AbstractConnection,
        *,
        settings: RelaySettings | None = None,
        holder: str | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or RelaySettings()
        self._connection = connection
        self._channel: AbstractChannel | None = None
        self._sender: MessageSender | None = None
        self._signal = signal_for(engine)
        self._sqlite = is_sqlite(engine)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._task: asyncio.Task[None] | None = None
        self._housekeeper: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._listener: AsyncConnection | None = None
        # The relay's own connection for its batches, kept between them (see HeldConnection).
        self._held = claims.HeldConnection(engine)
        self.has_lease = False
        self._lease_renewed = 0.0

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the confirm channel, listen for commits (PostgreSQL) and start relaying in the background."""
        self._stopping.clear()
        await self._open_channel()
        await self._listen()
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.holder}")
        # Gauges and retention run beside the loop, so a slow count or sweep never delays publishing.
        self._housekeeper = asyncio.create_task(
            self._housekeeping(), name=f"outbox-housekeeping-{self.holder}"
        )

    async def stop(self) -> None:
        """Finish the batch in flight, release the lease and close the channel."""
        self._stopping.set()
        self._signal.notify()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeper
            self._housekeeper = None
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
        await self._held.close()
        if self._sqlite and self.has_lease:
            with contextlib.suppress(SQLAlchemyError):
                async with write_turn(self.engine):
                    await claims.release_lease(self.engine, name=self.settings.lease_name, holder=self.holder)
            self.has_lease = False
            self._signal.notify()  # a relay of this process waiting for the lease takes it now
        if self._channel is not None:
            with contextlib.suppress(Exception):
                await self._channel.close()
            self._channel = None
            self._sender = None

    async def _open_channel(self) -> None:
        self._channel = await confirm_channel(self._connection)  # type: ignore[arg-type]
        self._sender = MessageSender(self._channel)

    async def _listen(self) -> None:
        if self._sqlite:
            return
        try:
            self._listener = await self.engine.connect()
            raw = await self._listener.get_raw_connection()
            own = notify_payload(self.engine)

            def on_notify(_connection: object, _pid: int, _channel: str, payload: str) -> None:
                # Commits through this relay's engine already woke it in-process (see notify_payload).
                if payload != own:
                    self._signal.notify()

            await raw.driver_connection.add_listener(NOTIFY_CHANNEL, on_notify)  # type: ignore[union-attr]
            await self._listener.commit()
        except (SQLAlchemyError, OSError) as exc:
            # Polling still delivers everything; only the wake-up latency suffers.
            log.warning("outbox relay could not LISTEN (%r); polling only", exc)
            self._listener = None

    # -- the loop -------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = self.settings.backoff_initial
        while not self._stopping.is_set():
            try:
                if self._sqlite and not await self._hold_lease():
                    await self._pause(self.settings.lease_ttl.total_seconds() / 3)
                    continue
                published = await self.run_once()
                backoff = self.settings.backoff_initial
                if published >= self.settings.batch_size:
                    continue  # a backlog: keep draining
                await self._pause(self.settings.poll_interval)
            except _BACK_OFF as exc:
                metrics.PUBLISH_ERRORS.inc()
                log.warning("outbox relay backing off %.1fs: %s", backoff, exc)
                await self._pause(backoff)
                backoff = min(backoff * 2, self.settings.backoff_max)
            except Exception:
                log.exception("outbox relay iteration failed")
                await self._pause(backoff)
                backoff = min(backoff * 2, self.settings.backoff_max)

    async def _pause(self, seconds: float) -> None:
        if not self._stopping.is_set():
            await self._signal.wait(seconds)

    async def _hold_lease(self) -> bool:
        # Renewing is a write transaction: renew once a third of the TTL has passed, not on every batch, so the
        # lease never competes with producers for the SQLite write lock at hundreds of batches a second.
        now = asyncio.get_running_loop().time()
        if self.has_lease and now - self._lease_renewed < self.settings.lease_ttl.total_seconds() / 3:
            return True
        async with write_turn(self.engine):
            self.has_lease = await claims.acquire_lease(
                self.engine, name=self.settings.lease_name, holder=self.holder, ttl=self.settings.lease_ttl
            )
        if self.has_lease:
            self._lease_renewed = now
        return self.has_lease

    async def run_once(self) -> int:
        """Publish one batch of pending rows; return how many were published. Raises BrokerUnavailable."""
        if self._sender is None:
            await self._open_channel()
        settings = self.settings
        hold = settings.hold_aggregate_on_failure
        if self._sqlite:
            # One relay (the lease holder): read (one statement, no write lock, so producers' commits never wait for
            # it), publish with no connection held, then mark in a short write transaction in this process's turn
            # (turn first, then a connection, as units of work do), so neither the write lock nor a pooled
            # connection is held across network round trips.
            async with self._batch_connection() as db:
                rows = await db.fetch_batch(limit=settings.batch_size, lock=False, hold_on_failure=hold)
            if not rows:
                return 0
            outcome = await self._publish(rows)
            async with write_turn(self.engine), self._batch_connection() as db, db.transaction():
                await self._record(db, rows, outcome)
        else:
            # The row locks (and so the claim) last until the marks commit.
            async with self._batch_connection() as db, db.transaction():
                rows = await db.fetch_batch(limit=settings.batch_size, lock=True, hold_on_failure=hold)
                if not rows:
                    return 0
                outcome = await self._publish(rows)
                await self._record(db, rows, outcome)
        if outcome.transient is not None:
            raise BrokerUnavailable(outcome.transient)
        return len(outcome.sent)

    def _batch_connection(self) -> contextlib.AbstractAsyncContextManager[claims.BatchConnection]:
        # A started relay keeps its connection between batches (closed by stop()); a one-off run_once() on a relay
        # that was never started (tests, tools) borrows a pooled one for the batch.
        return self._held.use() if self._task is not None else claims.batch_connection(self.engine)

    async def _publish(self, rows: Sequence[Mapping[str, Any]]) -> _Outcome:
        """Publish rows: aggregates concurrently, each aggregate's rows strictly one after another."""
        chains: dict[object, list[Mapping[str, Any]]] = defaultdict(list)
        for row in rows:
            key = row["aggregate_id"] if row["aggregate_id"] is not None else ("row", row["id"])
            chains[key].append(row)
        outcome = _Outcome(sent=[], failed={}, refused={})
        if len(chains) == 1:  # at a trickle every batch is one row: no task to gather
            await self._publish_chain(next(iter(chains.values())), outcome)
        else:
            await asyncio.gather(*(self._publish_chain(chain, outcome) for chain in chains.values()))
        if outcome.sent and os.environ.get(KILL_AFTER_CONFIRM_ENV):
            os.kill(os.getpid(), signal.SIGKILL)
        return outcome

    async def _publish_chain(self, chain: list[Mapping[str, Any]], outcome: _Outcome) -> None:
        assert self._sender is not None
        for row in chain:
            try:
                message = to_message(row)
                if len(message.body) > self.settings.max_message_bytes:
                    raise MessageTooLarge(
                        f"body of {len(message.body)} bytes exceeds {self.settings.max_message_bytes}"
                    )
                await self._sender.publish_message(row["exchange"], message, routing_key=row["routing_key"])
            except (UnroutableMessage, MessageTooLarge, ValueError) as exc:
                outcome.failed[row["id"]] = f"{type(exc).__name__}: {exc}"
                if self.settings.hold_aggregate_on_failure:
                    return
                continue
            except BrokerRefused as exc:
                outcome.refused[row["id"]] = f"{type(exc).__name__}: {exc}"
                return
            except PublishError as exc:
                outcome.transient = str(exc)
                return  # later rows of this aggregate wait, so order holds
            outcome.sent.append(row["id"])

    async def _record(
        self, db: claims.BatchConnection, rows: Sequence[Mapping[str, Any]], outcome: _Outcome
    ) -> None:
        now = utcnow()
        await db.mark_sent(outcome.sent, at=now)
        await db.mark_failed(outcome.failed)
        gave_up = await db.count_refusal(outcome.refused, max_attempts=self.settings.max_refusals)
        by_id = {row["id"]: row for row in rows}
        published: Counter[str] = Counter()
        for row_id in outcome.sent:
            row = by_id[row_id]
            published[row["kind"]] += 1
            metrics.RELAY_LAG.observe((now - row["created_at"]).total_seconds())
        for kind, count in published.items():
            metrics.PUBLISHED_BY_KIND[kind].inc(count)
        for row_id, reason in outcome.failed.items():
            metrics.FAILED.labels(reason=reason.split(":", 1)[0]).inc()
            log.error("outbox row %s (%s) failed: %s", row_id, by_id[row_id]["message_type"], reason)
        for row_id in gave_up:
            metrics.FAILED.labels(reason="BrokerRefused").inc()
            log.error("outbox row %s failed: refused %d times", row_id, self.settings.max_refusals)
        if outcome.refused and outcome.transient is None:
            outcome.transient = next(iter(outcome.refused.values()))

    # -- housekeeping (its own task) -------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        loop = asyncio.get_running_loop()
        last_sweep = -self.settings.housekeeping_interval  # the first sweep runs at start
        while not self._stopping.is_set():
            try:
                await self._update_gauges()
                if not self._sqlite and self._listener is None:
                    await self._listen()
                # On SQLite only the lease holder sweeps (one writer of the outbox at a time).
                if loop.time() - last_sweep >= self.settings.housekeeping_interval and (
                    not self._sqlite or self.has_lease
                ):
                    last_sweep = loop.time()
                    await sweep_sent(self.engine, older_than=self.settings.sent_retention)
                    await sweep_inbox(self.engine, older_than=self.settings.inbox_retention)
            except (SQLAlchemyError, OSError) as exc:
                log.warning(
                    "outbox housekeeping failed, next try in %.0fs: %s", self.settings.stats_interval, exc
                )
            except Exception:
                log.exception("outbox housekeeping failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.stats_interval)

    async def _update_gauges(self) -> None:
        stats = await outbox_stats(self.engine, count_sent=False)
        metrics.PENDING_ROWS.set(stats.pending)
        metrics.OLDEST_PENDING_AGE.set(stats.oldest_pending_age_seconds)
        metrics.FAILED_ROWS.set(stats.failed)
