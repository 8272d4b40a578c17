"""Scheduled sweeps run by Celery beat on the maintenance queue."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from notification.adapters.repository import NotificationRepository
from notification.entrypoints.delivery_runtime import DeliveryRuntime
from notification.service_layer.tasks import DELIVER_TASK, QUEUE
from shared.inbox.store import sweep_inbox
from shared.outbox.retention import sweep_sent
from shared.persistence.engine import read_transaction

log = logging.getLogger(__name__)

SendTask = Callable[..., Any]


async def redispatch_stalled(rt: DeliveryRuntime, send_task: SendTask, *, limit: int = 500) -> int:
    """Queue a fresh delivery task for notifications nobody has touched for ``stalled_after_seconds``.

    A task message can be lost to the broker's delivery limit (a worker crashing on it repeatedly) or to an
    operator purging a queue; the stored status is the truth, and delivery is idempotent, so re-queueing is safe.
    """
    older_than = datetime.now(UTC) - timedelta(seconds=rt.settings.stalled_after_seconds)
    async with read_transaction(rt.engine) as connection:
        stalled = await NotificationRepository(connection).stalled(older_than, limit)
    for notification in stalled:
        send_task(
            DELIVER_TASK[notification.channel], args=[notification.id], queue=QUEUE[notification.channel]
        )
    if stalled:
        log.warning("re-dispatched %d stalled notification(s)", len(stalled))
    return len(stalled)


async def sweep_retention(rt: DeliveryRuntime) -> dict[str, int]:
    """Retention of this service's database, in small batches: finished notifications, sent outbox rows,
    inbox marks (the serve process's relay sweeps the last two as well; running twice is harmless)."""
    settings = rt.settings
    before = datetime.now(UTC) - timedelta(days=settings.retention_days)
    return {
        "notifications": await rt.store.delete_finished_before(before),
        "outbox": await sweep_sent(rt.engine, older_than=timedelta(hours=settings.outbox_retention_hours)),
        "inbox": await sweep_inbox(rt.engine, older_than=timedelta(days=settings.inbox_retention_days)),
    }
