"""Celery configuration built from settings: queues, routes, acks, limits and the beat schedule.

Delivery queues are quorum queues on a topic exchange. With quorum queues Celery (>= 5.5) uses RabbitMQ
*native delayed delivery*: a task retried with a countdown is re-published into the ``celery_delayed_*`` TTL
queues and comes back when due, instead of being held unacked by a worker until its ETA. A held ETA message
is what trips RabbitMQ's ``consumer_timeout`` (30 min by default): the broker closes the channel and the
message is redelivered, again and again. See docs/notification.md.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kombu import Exchange, Queue

from notification.config import NotificationSettings
from notification.domain.model import Channel
from notification.service_layer.tasks import (
    DELIVER_TASK,
    MAINTENANCE_QUEUE,
    QUEUE,
    SWEEP_TASKS,
    TASK_EXCHANGE,
)

DEAD_LETTER_EXCHANGE = "notification.tasks.dead-letter"
DEAD_LETTER_QUEUE = "notifications.dead-letter"
# Broker-side backstop: a task message whose worker keeps dying (poison input crashing the process) is
# dead-lettered after this many deliveries instead of looping forever.
DELIVERY_LIMIT = 10


def task_queues() -> list[Queue]:
    exchange = Exchange(TASK_EXCHANGE, type="topic", durable=True)
    arguments = {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
    }
    names = [QUEUE[Channel.EMAIL], QUEUE[Channel.WEBHOOK], MAINTENANCE_QUEUE]
    return [
        Queue(name, exchange, routing_key=name, queue_arguments=arguments, durable=True) for name in names
    ]


def dead_letter_queue() -> Queue:
    exchange = Exchange(DEAD_LETTER_EXCHANGE, type="fanout", durable=True)
    return Queue(DEAD_LETTER_QUEUE, exchange, queue_arguments={"x-queue-type": "quorum"}, durable=True)


def celery_config(settings: NotificationSettings) -> dict[str, Any]:
    routes: dict[str, dict[str, str]] = {
        DELIVER_TASK[channel]: {"queue": QUEUE[channel]} for channel in Channel
    }
    routes.update({name: {"queue": MAINTENANCE_QUEUE} for name in SWEEP_TASKS.values()})
    annotations: dict[str, dict[str, Any]] = {}
    for channel, limit in (
        (Channel.EMAIL, settings.email_rate_limit),
        (Channel.WEBHOOK, settings.webhook_rate_limit),
    ):
        if limit:
            annotations[DELIVER_TASK[channel]] = {"rate_limit": limit}
    return {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        # Publisher confirms for every message Celery itself publishes (retries, beat).
        "broker_transport_options": {"confirm_publish": True},
        "task_queues": task_queues(),
        "task_default_queue": MAINTENANCE_QUEUE,
        "task_default_exchange": TASK_EXCHANGE,
        "task_default_exchange_type": "topic",
        "task_default_routing_key": MAINTENANCE_QUEUE,
        "task_routes": routes,
        "task_annotations": annotations,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "result_backend": None,
        # Ack after the task ran, and give the message back if the worker process died mid-task.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # One message in hand per process: nothing sits unacked behind a slow send.
        "worker_prefetch_multiplier": 1,
        # A stuck send is killed long before RabbitMQ's consumer_timeout would close the channel.
        "task_time_limit": settings.task_time_limit_seconds,
        "task_soft_time_limit": max(1.0, settings.task_time_limit_seconds - 10),
        # If the broker connection drops, running tasks are cancelled: their messages are redelivered, and
        # finishing them anyway would deliver twice.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_hijack_root_logger": False,
        "beat_schedule": {
            "redispatch-stalled-notifications": {
                "task": SWEEP_TASKS["stalled"],
                "schedule": timedelta(seconds=settings.stalled_sweep_every_seconds),
            },
            "retention": {
                "task": SWEEP_TASKS["retention"],
                "schedule": timedelta(seconds=settings.retention_sweep_every_seconds),
            },
        },
        "warren_settings": settings,
    }
