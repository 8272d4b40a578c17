"""The notification Celery app: ``celery -A notification.entrypoints.celery_app worker|beat``.

Configuration is read from ``NOTIFICATION_*`` settings when Celery first needs it (worker or beat start-up),
not when this module is imported.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_init

from notification.config import NotificationSettings
from notification.entrypoints.celery_config import celery_config
from notification.entrypoints.celery_tasks import register_tasks
from notification.entrypoints.task_topology import declare_task_topology


def create_celery_app(settings: NotificationSettings | None = None) -> Celery:
    """A configured app; with no settings given, they are loaded lazily from the environment."""
    celery = Celery("notification", set_as_current=False)
    if settings is not None:
        celery.conf.update(celery_config(settings))
    else:
        celery.add_defaults(lambda: celery_config(NotificationSettings()))
    register_tasks(celery)
    return celery


app = create_celery_app()


@worker_init.connect
def _declare_topology(sender: Any = None, **_: Any) -> None:
    # The dead-letter exchange and queue must exist before a delivery-limit overrun dead-letters a message.
    if sender is not None and getattr(sender, "app", None) is app:
        declare_task_topology(app)
