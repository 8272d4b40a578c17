"""``python -m fraud serve``: builds every connection and component, runs them until SIGTERM/SIGINT."""

from __future__ import annotations

from fraud.adapters.migrate import upgrade
from fraud.adapters.risk_score import HttpRiskScorer
from fraud.adapters.unit_of_work import SqlFraudUnitOfWork
from fraud.config import FraudSettings
from fraud.entrypoints.consumers import register_handlers
from fraud.entrypoints.http import create_app
from fraud.entrypoints.topology import TOPOLOGY
from shared.messaging.consumer import Consumer
from shared.messaging.envelope import Envelope
from shared.resilience import BreakerPolicy, BulkheadPolicy, Dependency, RetryPolicy
from shared.resilience.http import dependency_client
from shared.runtime.http_server import HttpServer
from shared.runtime.service import Service, ServiceResources, run_service


def migrate(settings: FraudSettings | None = None) -> None:
    upgrade((settings or FraudSettings()).database_url)


async def build(settings: FraudSettings) -> Service:
    """Connect to the database and the broker and assemble the components (nothing starts yet)."""
    resources = await ServiceResources.open("fraud", settings)
    engine = resources.engine
    http_client = dependency_client(timeout=settings.risk_score_timeout_seconds)
    resources.close_with(http_client.aclose)
    risk = (
        HttpRiskScorer(http_client, settings.risk_score_url, risk_dependency(settings))
        if settings.risk_score_url
        else None
    )

    def uow_for(envelope: Envelope, queue: str) -> SqlFraudUnitOfWork:
        return SqlFraudUnitOfWork(engine).for_message(envelope, handler=queue)

    consumer = Consumer(resources.connection, TOPOLOGY)
    register_handlers(consumer, uow_for, settings.rules(), risk)
    app = create_app(resources.readiness_checks())
    http = HttpServer(app, host=settings.http_host, port=settings.http_port)
    return resources.assemble(topology=TOPOLOGY, consumer=consumer, http=http)


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
    await run_service(await build(settings), settings)
