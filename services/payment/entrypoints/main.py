"""``python -m payment serve``: HTTP API, consumers, outbox relay and charge sweeper in one process."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from payment.adapters.gateway import HttpCardGateway
from payment.adapters.unit_of_work import SqlPaymentUnitOfWork
from payment.config import PaymentSettings
from payment.entrypoints.http import create_app
from payment.entrypoints.migrate import upgrade
from payment.entrypoints.sweeper import ChargeSweeper
from payment.service_layer.handlers import Services
from shared.runtime.health import database_check, health_router
from shared.runtime.http_server import HttpServer
from shared.runtime.lifecycle import CallbackComponent, run_until_stopped

log = logging.getLogger("payment")


def utc_now() -> datetime:
    return datetime.now(UTC)


async def serve(settings: PaymentSettings | None = None) -> None:
    settings = settings or PaymentSettings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = create_async_engine(settings.database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
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
    app = create_app(services)
    app.include_router(health_router({"database": database_check(engine)}))
    await run_until_stopped(
        [
            CallbackComponent("database", stop=engine.dispose),
            CallbackComponent("gateway-client", stop=gateway_client.aclose),
            ChargeSweeper(services, interval=settings.sweep_interval_seconds),
            HttpServer(app, host=settings.http_host, port=settings.http_port),
        ],
        stop_timeout=settings.shutdown_grace_seconds,
    )


def migrate(settings: PaymentSettings | None = None) -> None:
    upgrade((settings or PaymentSettings()).database_url)
