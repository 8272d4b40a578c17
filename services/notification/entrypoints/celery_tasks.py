"""The Celery tasks: one delivery task per channel, and the sweeps beat schedules."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init, worker_process_shutdown
from sqlalchemy.exc import SQLAlchemyError

from notification.config import NotificationSettings
from notification.domain.model import Channel
from notification.entrypoints.delivery_runtime import DeliveryRuntime
from notification.service_layer.backoff import retry_delay
from notification.service_layer.delivery import Outcome, deliver
from notification.service_layer.tasks import DELIVER_TASK, QUEUE, SWEEP_TASKS

log = logging.getLogger(__name__)

_runtime: DeliveryRuntime | None = None


def runtime(app: Celery) -> DeliveryRuntime:
    """This worker process's runtime, built on first use (after the prefork fork)."""
    global _runtime
    if _runtime is None:
        settings = app.conf.get("warren_settings") or NotificationSettings()
        _runtime = DeliveryRuntime(settings)
    return _runtime


@worker_process_init.connect
def _fresh_runtime_after_fork(**_: Any) -> None:
    # Never share an event loop, database pool or sockets with the parent process.
    global _runtime
    _runtime = None


@worker_process_shutdown.connect
def _close_runtime(**_: Any) -> None:
    if _runtime is not None:
        _runtime.close()


def run_delivery(task: Task, channel: Channel, notification_id: str) -> str:
    rt = runtime(task.app)
    settings = rt.settings
    retries = int(task.request.retries or 0)
    task_id = str(task.request.id)
    try:
        result = rt.run(
            deliver(
                notification_id,
                task_id,
                store=rt.store,
                sender=rt.sender(channel),
                last_attempt=retries + 1 >= settings.max_attempts,
                lease=rt.lease,
            )
        )
    except (SQLAlchemyError, OSError) as exc:
        # Our own database is unreachable: nothing was recorded, so try the whole task again later (acking it
        # as failed would leave the notification to the stalled sweep).
        countdown = retry_delay(retries, base=settings.retry_base_seconds, cap=settings.retry_max_seconds)
        log.warning("notification %s: database error %r, retrying in %ds", notification_id, exc, countdown)
        raise task.retry(countdown=countdown, max_retries=None, queue=QUEUE[channel]) from exc
    if result.outcome in (Outcome.RETRY, Outcome.BUSY):
        if result.outcome is Outcome.BUSY and retries + 1 >= settings.max_attempts:
            log.warning(
                "notification %s stays claimed by another task; leaving it to that task", notification_id
            )
            return result.outcome.value
        countdown = retry_delay(
            retries,
            base=settings.retry_base_seconds,
            cap=settings.retry_max_seconds,
            retry_after=result.retry_after,
        )
        log.info(
            "notification %s: %s (attempt %d), retrying in %ds",
            notification_id,
            result.error or "busy",
            result.attempts,
            countdown,
        )
        # The retry is a new message published (with confirms) before this one is acked; with quorum queues
        # it waits in RabbitMQ's delayed-delivery queues, not in this worker.
        raise task.retry(countdown=countdown, max_retries=None, queue=QUEUE[channel])
    log.info(
        "notification %s: %s after %d attempt(s)", notification_id, result.outcome.value, result.attempts
    )
    return result.outcome.value


DELIVERY_TASK_OPTIONS: dict[str, Any] = {
    "shared": False,
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    # Unlimited for Celery: run_delivery bounds attempts itself (NOTIFICATION_MAX_ATTEMPTS) and marks the
    # notification failed on the last one. Celery's default of 3 would end the task with the row still pending.
    "max_retries": None,
}


def register_tasks(app: Celery) -> None:
    """Declare the tasks on ``app`` (no connection is made here)."""

    @app.task(name=DELIVER_TASK[Channel.EMAIL], **DELIVERY_TASK_OPTIONS)
    def deliver_email(self: Task, notification_id: str) -> str:
        return run_delivery(self, Channel.EMAIL, notification_id)

    @app.task(name=DELIVER_TASK[Channel.WEBHOOK], **DELIVERY_TASK_OPTIONS)
    def deliver_webhook(self: Task, notification_id: str) -> str:
        return run_delivery(self, Channel.WEBHOOK, notification_id)

    @app.task(shared=False, name=SWEEP_TASKS["stalled"], bind=True, acks_late=True)
    def redispatch_stalled(self: Task) -> int:
        from notification.entrypoints.sweeps import redispatch_stalled as sweep

        rt = runtime(self.app)
        return rt.run(sweep(rt, self.app.send_task))

    @app.task(shared=False, name=SWEEP_TASKS["retention"], bind=True, acks_late=True)
    def sweep_retention(self: Task) -> dict[str, int]:
        from notification.entrypoints.sweeps import sweep_retention as sweep

        return runtime(self.app).run(sweep(runtime(self.app)))
