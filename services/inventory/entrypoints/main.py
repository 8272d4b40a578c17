"""``python -m inventory serve``: builds every connection and component, runs them until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
from datetime import timedelta

from aio_pika.abc import AbstractRobustConnection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from inventory.adapters.database import create_engine
from inventory.adapters.migrate import upgrade
from inventory.adapters.unit_of_work import SqlInventoryUnitOfWork
from inventory.config import InventorySettings
from inventory.entrypoints.http import create_app
from inventory.entrypoints.sweeper import ExpirySweeper
from inventory.service_layer.handlers import ReservationPolicy
from shared.messaging.connection import connect
from shared.runtime.health import broker_check, database_check
from shared.runtime.http_server import HttpServer
from shared.runtime.lifecycle import CallbackComponent, Component, run_until_stopped

log = logging.getLogger(__name__)


def migrate(settings: InventorySettings | None = None) -> None:
    upgrade((settings or InventorySettings()).database_url)


async def serve(settings: InventorySettings | None = None) -> None:
    settings = settings or InventorySettings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s inventory %(levelname)s %(name)s: %(message)s"
    )
    engine = create_engine(settings.database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    connection = await connect(settings.amqp_url, connection_name="inventory")
    policy = ReservationPolicy(
        ttl=timedelta(seconds=settings.reservation_ttl_seconds),
        stock_low_threshold=settings.stock_low_threshold,
    )

    def uow() -> SqlInventoryUnitOfWork:
        return SqlInventoryUnitOfWork(sessions)

    app = create_app(uow, {"database": database_check(engine), "broker": broker_check(connection)})
    components: list[Component] = [
        CallbackComponent("resources", stop=lambda: _close(connection, engine)),
        ExpirySweeper(
            uow, policy, interval=settings.sweep_interval_seconds, batch_size=settings.sweep_batch_size
        ),
        HttpServer(app, host=settings.http_host, port=settings.http_port),
    ]
    await run_until_stopped(components, stop_timeout=settings.shutdown_grace_seconds)


async def _close(connection: AbstractRobustConnection, engine: AsyncEngine) -> None:
    await connection.close()
    await engine.dispose()
