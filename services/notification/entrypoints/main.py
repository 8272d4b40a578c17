"""``python -m notification serve|migrate``: HTTP, event consumers and the outbox relay in one process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from notification.adapters import migrating
from notification.adapters.rendering import Renderer
from notification.adapters.unit_of_work import NotificationUnitOfWork
from notification.config import NotificationSettings
from notification.domain.decisions import Audience
from notification.entrypoints.celery_app import create_celery_app
from notification.entrypoints.consumers import EventHandlers, build_consumer
from notification.entrypoints.http import create_app
from notification.entrypoints.task_topology import declare_task_topology
from shared.messaging.connection import connect
from shared.outbox.relay import OutboxRelay
from shared.persistence.engine import create_engine
from shared.runtime.cli import service_main
from shared.runtime.health import broker_check, database_check
from shared.runtime.http_server import HttpServer
from shared.runtime.lifecycle import CallbackComponent, Component, run_until_stopped

log = logging.getLogger(__name__)


async def serve(settings: NotificationSettings | None = None) -> None:
    settings = settings or NotificationSettings()
    engine = create_engine(settings.database_url)
    celery = create_celery_app(settings)
    connection = await connect(settings.amqp_url, connection_name="notification")
    http = HttpServer(
        create_app(engine, {"database": database_check(engine), "broker": broker_check(connection)}),
        host=settings.http_host,
        port=settings.http_port,
    )
    handlers = EventHandlers(
        lambda envelope, handler: NotificationUnitOfWork(engine).for_message(envelope, handler=handler),
        Audience(operator_email=settings.operator_email, webhook_url=settings.webhook_url),
        Renderer(brand=settings.brand),
    )
    components: list[Component] = [
        CallbackComponent("database", stop=engine.dispose),
        CallbackComponent("broker", stop=connection.close),
        # Task queues exist before the relay publishes a task to them (else the broker returns it).
        CallbackComponent("task topology", start=lambda: asyncio.to_thread(declare_task_topology, celery)),
        # Started before the consumers and stopped after them: it publishes what they committed.
        OutboxRelay(engine, connection),
        build_consumer(connection, handlers, grace_seconds=settings.shutdown_grace_seconds),
        http,
    ]
    await run_until_stopped(components, stop_timeout=settings.shutdown_grace_seconds)


def migrate(settings: NotificationSettings | None = None) -> None:
    settings = settings or NotificationSettings()
    migrating.upgrade(settings.database_url)


def main(argv: Sequence[str] | None = None) -> int:
    return service_main("notification", serve=serve, migrate=migrate, argv=argv)
