"""Declaring the Celery task queues and their dead-letter queue on the broker.

The serve process declares them at start-up too, so a task the outbox relay publishes before any worker
ever ran is routable instead of returned.
"""

from __future__ import annotations

from celery import Celery

from notification.entrypoints.celery_config import dead_letter_queue


def declare_task_topology(app: Celery) -> None:
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        dead_letter_queue().bind(channel).declare()
        for queue in app.amqp.queues.values():
            queue.bind(channel).declare()
