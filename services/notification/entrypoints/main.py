"""``python -m notification serve|migrate``: HTTP, event consumers and the outbox relay in one process."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from notification.adapters.migrate import upgrade
from notification.adapters.rendering import Renderer
from notification.adapters.unit_of_work import NotificationUnitOfWork
from notification.config import NotificationSettings
from notification.domain.decisions import Audience
from notification.entrypoints.celery_app import create_celery_app
from notification.entrypoints.consumers import EventHandlers, build_consumer
from notification.entrypoints.http import create_app
from notification.entrypoints.task_topology import declare_task_topology
from notification.entrypoints.topology import TOPOLOGY
from shared.runtime.cli import service_main
from shared.runtime.http_server import HttpServer
from shared.runtime.lifecycle import CallbackComponent
from shared.runtime.service import Service, ServiceResources, run_service


async def build(settings: NotificationSettings) -> Service:
    """Every connection and component of the service, not yet started."""
    resources = await ServiceResources.open("notification", settings)
    engine = resources.engine
    celery = create_celery_app(settings)
    handlers = EventHandlers(
        lambda envelope, handler: NotificationUnitOfWork(engine).for_message(envelope, handler=handler),
        Audience(operator_email=settings.operator_email, webhook_url=settings.webhook_url),
        Renderer(brand=settings.brand),
    )
    return resources.assemble(
        topology=TOPOLOGY,
        # Task queues exist before the relay publishes a task to them (else the broker returns it).
        before_relay=[
            CallbackComponent("task topology", start=lambda: asyncio.to_thread(declare_task_topology, celery))
        ],
        consumer=build_consumer(
            resources.connection, handlers, grace_seconds=settings.shutdown_grace_seconds
        ),
        http=HttpServer(
            create_app(engine, resources.readiness_checks()), host=settings.http_host, port=settings.http_port
        ),
    )


async def serve(settings: NotificationSettings | None = None) -> None:
    settings = settings or NotificationSettings()
    await run_service(await build(settings), settings)


def migrate(settings: NotificationSettings | None = None) -> None:
    settings = settings or NotificationSettings()
    upgrade(settings.database_url)


def main(argv: Sequence[str] | None = None) -> int:
    return service_main("notification", serve=serve, migrate=migrate, argv=argv)
