"""``python -m payment serve``: HTTP API, consumers, outbox relay and charge sweeper in one process."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from payment.adapters.gateway import HttpCardGateway
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
from shared.runtime.health import broker_check, database_check, health_router
from shared.runtime.http_server import HttpServer
from shared.runtime.lifecycle import CallbackComponent, Component, run_until_stopped


def utc_now() -> datetime:
    return datetime.now(UTC)


async def serve(settings: PaymentSettings | None = None) -> None:
    settings = settings or PaymentSettings()
    configure_logging("payment", settings.log_level)
    engine = create_async_engine(settings.database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    connection = await connect(settings.amqp_url, connection_name="payment")
    gateway_client = httpx.AsyncClient(
        base_url=settings.gateway_url,
        timeout=settings.gateway_timeout_seconds,
        limits=httpx.Limits(max_connections=settings.gateway_max_concurrency),
    )
    services = Services(
        uow=lambda: SqlPaymentUnitOfWork(sessions),
        gateway=HttpCardGateway(gateway_client),
        clock=utc_now,
        policy=settings.charge_policy(),
    )

    def uow_for(handler: str, envelope: Envelope) -> UnitOfWorkFactory:
        return lambda: SqlPaymentUnitOfWork(sessions)

    consumer = Consumer(connection, TOPOLOGY)
    consumer.register(ON_FRAUD_ASSESSED, fraud_handler(services, uow_for), ACCEPTS[ON_FRAUD_ASSESSED.handler])
    consumer.register(ON_STOCK, stock_handler(services, uow_for), ACCEPTS[ON_STOCK.handler])

    app = create_app(services)
    app.include_router(
        health_router({"database": database_check(engine), "broker": broker_check(connection)})
    )
    components: list[Component] = [
        CallbackComponent("resources", stop=lambda: _close(connection, engine, gateway_client)),
        consumer,
        ChargeSweeper(services, interval=settings.sweep_interval_seconds),
        HttpServer(app, host=settings.http_host, port=settings.http_port),
    ]
    await run_until_stopped(components, stop_timeout=settings.shutdown_grace_seconds)


async def _close(connection: object, engine: object, gateway_client: httpx.AsyncClient) -> None:
    await gateway_client.aclose()
    await connection.close()  # type: ignore[attr-defined]
    await engine.dispose()  # type: ignore[attr-defined]


def migrate(settings: PaymentSettings | None = None) -> None:
    upgrade((settings or PaymentSettings()).database_url)
