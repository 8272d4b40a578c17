"""``python -m inventory serve``: builds every connection and component, runs them until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from aio_pika.abc import AbstractRobustConnection
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.adapters.migrate import upgrade
from inventory.adapters.unit_of_work import SqlInventoryUnitOfWork
from inventory.config import InventorySettings
from inventory.entrypoints.consumers import register_handlers
from inventory.entrypoints.http import create_app
from inventory.entrypoints.sweeper import ExpirySweeper
from inventory.entrypoints.topology import TOPOLOGY
from inventory.service_layer.handlers import ReservationPolicy
from shared.messaging.connection import connect
from shared.messaging.consumer import Consumer
from shared.messaging.declare import declare
from shared.messaging.envelope import Envelope
from shared.outbox import OutboxRelay
from shared.persistence.engine import create_engine, is_sqlite
from shared.runtime.health import broker_check, database_check
from shared.runtime.http_server import HttpServer
from shared.runtime.lifecycle import CallbackComponent, Component, run_until_stopped

log = logging.getLogger(__name__)


def migrate(settings: InventorySettings | None = None) -> None:
    upgrade((settings or InventorySettings()).database_url)


def database_engine(url: str) -> AsyncEngine:
    """On SQLite one pooled connection: units of work queue fairly in the pool instead of napping in SQLite's
    busy handler (up to 100 ms per nap under contention); the outbox relay publishes outside any connection."""
    if is_sqlite(url):
        return create_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)
    return create_engine(url)


@dataclass
class Service:
    """Everything ``serve`` runs, in start order; tests start it in-process and read ``http.port``."""

    components: list[Component]
    http: HttpServer


async def build(settings: InventorySettings) -> Service:
    """Connect to the database and the broker and assemble the components (nothing starts yet)."""
    engine = database_engine(settings.database_url)
    connection = await connect(settings.amqp_url, connection_name="inventory")
    policy = ReservationPolicy(
        ttl=timedelta(seconds=settings.reservation_ttl_seconds),
        review_ttl=timedelta(seconds=settings.review_hold_seconds),
        stock_low_threshold=settings.stock_low_threshold,
    )

    def uow() -> SqlInventoryUnitOfWork:
        return SqlInventoryUnitOfWork(engine)

    def uow_for(envelope: Envelope, queue: str) -> SqlInventoryUnitOfWork:
        return SqlInventoryUnitOfWork(engine).for_message(envelope, handler=queue)

    consumer = Consumer(connection, TOPOLOGY)
    register_handlers(consumer, uow_for, policy)
    app = create_app(uow, {"database": database_check(engine), "broker": broker_check(connection)})
    http = HttpServer(app, host=settings.http_host, port=settings.http_port)
    components: list[Component] = [
        # Declared before the relay starts, so the relay never publishes to an exchange that does not exist.
        CallbackComponent(
            "topology", start=lambda: declare(connection, TOPOLOGY), stop=lambda: _close(connection, engine)
        ),
        OutboxRelay(engine, connection),
        consumer,
        ExpirySweeper(
            uow, policy, interval=settings.sweep_interval_seconds, batch_size=settings.sweep_batch_size
        ),
        http,
    ]
    return Service(components, http)


async def serve(settings: InventorySettings | None = None) -> None:
    settings = settings or InventorySettings()
    service = await build(settings)
    await run_until_stopped(service.components, stop_timeout=settings.shutdown_grace_seconds)


async def _close(connection: AbstractRobustConnection, engine: AsyncEngine) -> None:
    await connection.close()
    await engine.dispose()
