"""``python -m payment serve``: HTTP API, consumers, outbox relay and charge sweeper in one process."""

from __future__ import annotations

from datetime import UTC, datetime

from payment.adapters.gateway import HttpCardGateway, ResilientCardGateway
from payment.adapters.migrate import upgrade
from payment.adapters.unit_of_work import SqlPaymentUnitOfWork
from payment.config import PaymentSettings
from payment.entrypoints.consumers import fraud_handler, settlement_handler, stock_handler
from payment.entrypoints.http import create_app
from payment.entrypoints.sweeper import ChargeSweeper
from payment.entrypoints.topology import ACCEPTS, ON_FRAUD_ASSESSED, ON_STOCK, ON_STOCK_SETTLED, TOPOLOGY
from payment.service_layer.handlers import Services
from payment.service_layer.ports import UnitOfWorkFactory
from shared.messaging.consumer import Consumer
from shared.messaging.envelope import Envelope
from shared.resilience.http import dependency_client
from shared.runtime.health import health_router
from shared.runtime.http_server import HttpServer
from shared.runtime.service import Service, ServiceResources, run_service


def utc_now() -> datetime:
    return datetime.now(UTC)


async def serve(settings: PaymentSettings | None = None) -> None:
    settings = settings or PaymentSettings()
    await run_service(await build(settings), settings)


async def build(settings: PaymentSettings) -> Service:
    """Every connection and component of the service, not yet started (tests run them in-process)."""
    resources = await ServiceResources.open("payment", settings)
    engine = resources.engine
    gateway_client = dependency_client(
        base_url=settings.gateway_url,
        # The resilience wrapper enforces the per-attempt timeout; this one only backs it up.
        timeout=settings.gateway_timeout_seconds * 2,
        max_connections=settings.gateway_max_concurrency,
    )
    resources.close_with(gateway_client.aclose)
    services = Services(
        uow=lambda: SqlPaymentUnitOfWork(engine),
        gateway=ResilientCardGateway(HttpCardGateway(gateway_client), settings.gateway_dependency()),
        clock=utc_now,
        policy=settings.charge_policy(),
    )

    def uow_for(handler: str, envelope: Envelope) -> UnitOfWorkFactory:
        return lambda: SqlPaymentUnitOfWork(engine).for_message(envelope, handler=handler)

    consumer = Consumer(resources.connection, TOPOLOGY)
    consumer.register(ON_FRAUD_ASSESSED, fraud_handler(services, uow_for), ACCEPTS[ON_FRAUD_ASSESSED.handler])
    consumer.register(ON_STOCK, stock_handler(services, uow_for), ACCEPTS[ON_STOCK.handler])
    consumer.register(
        ON_STOCK_SETTLED, settlement_handler(services, uow_for), ACCEPTS[ON_STOCK_SETTLED.handler]
    )

    app = create_app(services)
    app.include_router(health_router(resources.readiness_checks()))
    return resources.assemble(
        topology=TOPOLOGY,
        consumer=consumer,
        http=HttpServer(app, host=settings.http_host, port=settings.http_port),
        background=[ChargeSweeper(services, interval=settings.sweep_interval_seconds)],
    )


def migrate(settings: PaymentSettings | None = None) -> None:
    upgrade((settings or PaymentSettings()).database_url)
