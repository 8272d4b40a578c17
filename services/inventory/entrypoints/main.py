"""``python -m inventory serve``: builds every connection and component, runs them until SIGTERM/SIGINT."""

from __future__ import annotations

from datetime import timedelta

from inventory.adapters.migrate import upgrade
from inventory.adapters.unit_of_work import SqlInventoryUnitOfWork
from inventory.config import InventorySettings
from inventory.entrypoints.consumers import register_handlers
from inventory.entrypoints.http import create_app
from inventory.entrypoints.sweeper import ExpirySweeper
from inventory.entrypoints.topology import TOPOLOGY
from inventory.service_layer.handlers import ReservationPolicy
from shared.messaging.consumer import Consumer
from shared.messaging.envelope import Envelope
from shared.runtime.http_server import HttpServer
from shared.runtime.service import Service, ServiceResources, run_service


def migrate(settings: InventorySettings | None = None) -> None:
    upgrade((settings or InventorySettings()).database_url)


async def build(settings: InventorySettings) -> Service:
    """Connect to the database and the broker and assemble the components (nothing starts yet)."""
    resources = await ServiceResources.open("inventory", settings)
    engine = resources.engine
    policy = ReservationPolicy(
        ttl=timedelta(seconds=settings.reservation_ttl_seconds),
        review_ttl=timedelta(seconds=settings.review_hold_seconds),
        stock_low_threshold=settings.stock_low_threshold,
    )

    def uow() -> SqlInventoryUnitOfWork:
        return SqlInventoryUnitOfWork(engine)

    def uow_for(envelope: Envelope, queue: str) -> SqlInventoryUnitOfWork:
        return SqlInventoryUnitOfWork(engine).for_message(envelope, handler=queue)

    consumer = Consumer(resources.connection, TOPOLOGY)
    register_handlers(consumer, uow_for, policy)
    app = create_app(uow, resources.readiness_checks())
    sweeper = ExpirySweeper(
        uow, policy, interval=settings.sweep_interval_seconds, batch_size=settings.sweep_batch_size
    )
    http = HttpServer(app, host=settings.http_host, port=settings.http_port)
    return resources.assemble(topology=TOPOLOGY, consumer=consumer, http=http, background=[sweeper])


async def serve(settings: InventorySettings | None = None) -> None:
    settings = settings or InventorySettings()
    await run_service(await build(settings), settings)
