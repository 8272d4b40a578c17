"""``python -m fraud serve``: builds every connection and component, runs them until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy.ext.asyncio import AsyncEngine

from fraud.adapters.migrate import upgrade
from fraud.adapters.risk_score import HttpRiskScorer
from fraud.adapters.unit_of_work import SqlFraudUnitOfWork
from fraud.config import FraudSettings
from fraud.entrypoints.consumers import register_handlers
from fraud.entrypoints.http import create_app
from fraud.entrypoints.topology import TOPOLOGY
from shared.messaging.connection import connect
from shared.messaging.consumer import Consumer
from shared.messaging.declare import declare
from shared.messaging.envelope import Envelope
from shared.outbox import OutboxRelay
from shared.persistence.engine import create_engine, is_sqlite
from shared.resilience import BreakerPolicy, BulkheadPolicy, Dependency, RetryPolicy
from shared.runtime.health import broker_check, database_check
from shared.runtime.http_server import HttpServer
from shared.runtime.lifecycle import CallbackComponent, Component, run_until_stopped

log = logging.getLogger(__name__)


def migrate(settings: FraudSettings | None = None) -> None:
    upgrade((settings or FraudSettings()).database_url)


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


async def build(settings: FraudSettings) -> Service:
    """Connect to the database and the broker and assemble the components (nothing starts yet)."""
    engine = database_engine(settings.database_url)
    connection = await connect(settings.amqp_url, connection_name="fraud")
    http_client = httpx.AsyncClient(timeout=settings.risk_score_timeout_seconds)
    risk = (
        HttpRiskScorer(http_client, settings.risk_score_url, risk_dependency(settings))
        if settings.risk_score_url
        else None
    )

    def uow_for(envelope: Envelope, queue: str) -> SqlFraudUnitOfWork:
        return SqlFraudUnitOfWork(engine).for_message(envelope, handler=queue)

    consumer = Consumer(connection, TOPOLOGY)
    register_handlers(consumer, uow_for, settings.rules(), risk)
    app = create_app({"database": database_check(engine), "broker": broker_check(connection)})
    http = HttpServer(app, host=settings.http_host, port=settings.http_port)
    components: list[Component] = [
        # Declared before the relay starts, so the relay never publishes to an exchange that does not exist.
        CallbackComponent(
            "topology",
            start=lambda: declare(connection, TOPOLOGY),
            stop=lambda: _close(connection, engine, http_client),
        ),
        OutboxRelay(engine, connection),
        consumer,
        http,
    ]
    return Service(components, http)


def risk_dependency(settings: FraudSettings) -> Dependency:
    """The risk service's breaker, timeout and short retry budget: an assessment never waits long for it."""
    attempts = settings.risk_score_attempts
    return Dependency(
        "risk-score",
        breaker=BreakerPolicy(
            fail_max=settings.risk_breaker_fail_max, reset_timeout=settings.risk_breaker_reset_seconds
        ),
        retry=RetryPolicy(
            attempts=attempts,
            total_seconds=settings.risk_score_timeout_seconds * attempts + 0.5,
            initial_backoff=0.05,
            max_backoff=0.2,
        ),
        timeout=settings.risk_score_timeout_seconds,
        bulkhead=BulkheadPolicy(max_concurrent=32, max_wait=0.1),
    )


async def serve(settings: FraudSettings | None = None) -> None:
    settings = settings or FraudSettings()
    service = await build(settings)
    await run_until_stopped(service.components, stop_timeout=settings.shutdown_grace_seconds)


async def _close(
    connection: AbstractRobustConnection, engine: AsyncEngine, http_client: httpx.AsyncClient
) -> None:
    await http_client.aclose()
    await connection.close()
    await engine.dispose()
