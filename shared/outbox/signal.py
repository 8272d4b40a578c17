"""Waking the relay right after a commit: in-process by an asyncio event, across processes by PostgreSQL NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import weakref

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

# The PostgreSQL channel a commit with outbox rows notifies (NOTIFY is delivered only if the transaction commits).
NOTIFY_CHANNEL = "warren_outbox"


_HOST = socket.gethostname()  # read once: notify_payload runs on every commit that notifies


def notify_payload(engine: AsyncEngine) -> str:
    """What commits through ``engine`` NOTIFY with: host, process and engine, the reach of the in-process signal.

    A relay ignores notifications with its own engine's payload: the commit already woke it in-process, and the
    NOTIFY, arriving a moment later, would wake it again for an empty batch (measured: four batches in ten at a
    trickle). Computed per call: a forked child is another process.
    """
    return f"{_HOST}:{os.getpid()}:{id(engine.sync_engine):x}"


class OutboxSignal:
    """A level-triggered wake-up: ``notify()`` after a commit, ``wait(timeout)`` in the relay."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake the relay (safe to call from any coroutine of the relay's event loop)."""
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a notification; True when one came. Clears it for the next wait."""
        # asyncio.timeout, not wait_for: no extra task per wait (the relay waits once per batch).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._event.wait()
        woke = self._event.is_set()
        self._event.clear()
        return woke


_SIGNALS: weakref.WeakKeyDictionary[Engine, OutboxSignal] = weakref.WeakKeyDictionary()


def signal_for(engine: AsyncEngine) -> OutboxSignal:
    """The one signal shared by every unit of work and relay that use ``engine`` in this process."""
    signal = _SIGNALS.get(engine.sync_engine)
    if signal is None:
        signal = _SIGNALS[engine.sync_engine] = OutboxSignal()
    return signal
