"""``python -m payment serve``: HTTP API, consumers, outbox relay and charge sweeper in one process."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy.ext.asyncio import AsyncEngine

from payment.adapters.gateway import HttpCardGateway, ResilientCardGateway
from payment.adapters.unit_of_work import SqlPaymentUnitOfWork
from payment.config import PaymentSettings
from payment.entrypoints.consumers import fraud_handler, stock_handler
from payment.entrypoints.http import create_app
from payment.entrypoints.migrate import upgrade
from payment.entrypoints.sweeper import ChargeSweeper
from payment.entrypoints.topology import ACCEPTS, ON_FRAUD_ASSESSED, ON_STOCK, TOPOLOGY
from payment.service_layer.handlers import Services
from payment.service_layer.ports import UnitOfWorkFactory
from shared.messaging.connection import connect
from shared.messaging.consumer import Consumer
from shared.messaging.envelope import Envelope
from shared.observability.logging import configure_logging
from shared.outbox.relay import OutboxRelay
from shared.persistence.engine import create_engine, is_sqlite
from shared.runtime.health import broker_check, database_check, health_router
from shared.runtime.http_server import HttpServer
from shared.runtime.lifecycle import CallbackComponent, Component, run_until_stopped


def utc_now() -> datetime:
    return datetime.now(UTC)


async def serve(settings: PaymentSettings | None = None) -> None:
    settings = settings or PaymentSettings()
    configure_logging("payment", settings.log_level)
    await run_until_stopped(await build(settings), stop_timeout=settings.shutdown_grace_seconds)


async def build(settings: PaymentSettings) -> list[Component]:
    """Every connection and component of the service, not yet started (tests run them in-process)."""
    engine = _engine(settings.database_url)
    connection = await connect(settings.amqp_url, connection_name="payment")
    gateway_client = httpx.AsyncClient(
        base_url=settings.gateway_url,
        # The resilience wrapper enforces the per-attempt timeout; this one only backs it up.
        timeout=settings.gateway_timeout_seconds * 2,
        limits=httpx.Limits(max_connections=settings.gateway_max_concurrency),
    )
    services = Services(
        uow=lambda: SqlPaymentUnitOfWork(engine),
        gateway=ResilientCardGateway(HttpCardGateway(gateway_client), settings.gateway_dependency()),
        clock=utc_now,
        policy=settings.charge_policy(),
    )

    def uow_for(handler: str, envelope: Envelope) -> UnitOfWorkFactory:
        return lambda: SqlPaymentUnitOfWork(engine).for_message(envelope, handler=handler)

    consumer = Consumer(connection, TOPOLOGY)
    consumer.register(ON_FRAUD_ASSESSED, fraud_handler(services, uow_for), ACCEPTS[ON_FRAUD_ASSESSED.handler])
    consumer.register(ON_STOCK, stock_handler(services, uow_for), ACCEPTS[ON_STOCK.handler])

    app = create_app(services)
    app.include_router(
        health_router({"database": database_check(engine), "broker": broker_check(connection)})
    )
    # Started in order, stopped in reverse: HTTP stops taking checkouts first, the sweeper and consumers
    # finish what they hold, and the relay publishes what they committed before the connections close.
    return [
        CallbackComponent("resources", stop=lambda: _close(connection, engine, gateway_client)),
        OutboxRelay(engine, connection),
        consumer,
        ChargeSweeper(services, interval=settings.sweep_interval_seconds),
        HttpServer(app, host=settings.http_host, port=settings.http_port),
    ]


def _engine(url: str) -> AsyncEngine:
    if is_sqlite(url):
        # One connection: SQLite has one writer anyway, and waiting in the pool's queue is fair and prompt,
        # where connections contending for the file lock sleep in SQLite's busy handler (up to 100 ms a nap).
        return create_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)
    return create_engine(url)


async def _close(
    connection: AbstractRobustConnection, engine: AsyncEngine, gateway_client: httpx.AsyncClient
) -> None:
    await gateway_client.aclose()
    await connection.close()
    await engine.dispose()


def migrate(settings: PaymentSettings | None = None) -> None:
    upgrade((settings or PaymentSettings()).database_url)
