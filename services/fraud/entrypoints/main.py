"""``python -m fraud serve``: builds every connection and component, runs them until SIGTERM/SIGINT."""

from __future__ import annotations

import logging

import httpx
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from fraud.adapters.database import create_engine
from fraud.adapters.migrate import upgrade
from fraud.adapters.risk_score import HttpRiskScorer
from fraud.config import FraudSettings
from fraud.entrypoints.http import create_app
from shared.messaging.connection import connect
from shared.runtime.health import broker_check, database_check
from shared.runtime.http_server import HttpServer
from shared.runtime.lifecycle import CallbackComponent, Component, run_until_stopped

log = logging.getLogger(__name__)


def migrate(settings: FraudSettings | None = None) -> None:
    upgrade((settings or FraudSettings()).database_url)


async def serve(settings: FraudSettings | None = None) -> None:
    settings = settings or FraudSettings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s fraud %(levelname)s %(name)s: %(message)s"
    )
    engine = create_engine(settings.database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    connection = await connect(settings.amqp_url, connection_name="fraud")
    http_client = httpx.AsyncClient(timeout=settings.risk_score_timeout_seconds)
    risk = HttpRiskScorer(http_client, settings.risk_score_url) if settings.risk_score_url else None
    del sessions, risk  # wired to the consumer below

    app = create_app({"database": database_check(engine), "broker": broker_check(connection)})
    components: list[Component] = [
        CallbackComponent("resources", stop=lambda: _close(connection, engine, http_client)),
        HttpServer(app, host=settings.http_host, port=settings.http_port),
    ]
    await run_until_stopped(components, stop_timeout=settings.shutdown_grace_seconds)


async def _close(
    connection: AbstractRobustConnection, engine: AsyncEngine, http_client: httpx.AsyncClient
) -> None:
    await http_client.aclose()
    await connection.close()
    await engine.dispose()
