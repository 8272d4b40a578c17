"""Fixtures for delivery tests: a migrated PostgreSQL database, the mail sink in-process on free ports, a
real Celery worker subprocess on the test's own vhost, the outbox relay, and a producer app for raw tasks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from sqlalchemy.ext.asyncio import AsyncEngine

from mailsink.server import MailSink
from notification.adapters.migrate import upgrade
from notification.adapters.rendering import Renderer
from notification.adapters.unit_of_work import NotificationUnitOfWork
from notification.config import NotificationSettings
from notification.domain.decisions import Audience
from notification.entrypoints.celery_app import create_celery_app
from notification.entrypoints.task_topology import declare_task_topology
from notification.service_layer.handlers import notify
from notification.tests.harness import Worker
from shared.contracts.base import Contract
from shared.messaging.connection import connect
from shared.messaging.envelope import Envelope
from shared.outbox.relay import OutboxRelay, RelaySettings
from shared.persistence.engine import create_engine
from shared.persistence.unit_of_work import AlreadyHandled
from shared.testing.waiting import wait_for


@pytest.fixture
async def database(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(upgrade, postgres_url)
    engine = create_engine(postgres_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[MailSink]:
    server = MailSink(tmp_path / "mail", smtp_port=0, http_port=0)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def worker_env(amqp_url: str, postgres_url: str, sink: MailSink) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOTIFICATION_")}
    env.update(
        {
            "NOTIFICATION_AMQP_URL": amqp_url,
            "NOTIFICATION_DATABASE_URL": postgres_url,
            "NOTIFICATION_SMTP_HOST": "127.0.0.1",
            "NOTIFICATION_SMTP_PORT": str(sink.smtp_port),
            "NOTIFICATION_SMTP_TIMEOUT_SECONDS": "5",
            "NOTIFICATION_RETRY_BASE_SECONDS": "1",
            "NOTIFICATION_RETRY_MAX_SECONDS": "2",
            "NOTIFICATION_MAX_ATTEMPTS": "40",
            "NOTIFICATION_WEBHOOK_SECRET": "test-secret",
            "NOTIFICATION_BREAKER_FAILURE_THRESHOLD": "3",
            "NOTIFICATION_BREAKER_RESET_SECONDS": "4",
        }
    )
    return env


@pytest.fixture
async def start_worker(worker_env: dict[str, str], tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    workers: list[Worker] = []

    async def start(**overrides: str) -> Worker:
        worker = Worker({**worker_env, **overrides}, tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)

        async def consuming() -> bool:
            if worker.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{worker.log()}")
            # Celery logs "<hostname> ready." once its consumers are subscribed.
            return " ready." in worker.log() and bool(worker.children())

        await wait_for(consuming, timeout=60, interval=0.2, message="celery worker consuming")
        return worker

    yield start
    for worker in workers:
        await asyncio.to_thread(worker.stop)


@pytest.fixture
def producer(amqp_url: str, postgres_url: str) -> Iterator[Celery]:
    app = create_celery_app(NotificationSettings(amqp_url=amqp_url, database_url=postgres_url))
    declare_task_topology(app)
    yield app
    app.close()


@pytest.fixture
def audience() -> Audience:
    return Audience(operator_email="ops@warren.test")


@pytest.fixture
async def relay(database: AsyncEngine, amqp_url: str, producer: Celery) -> AsyncIterator[OutboxRelay]:
    """The outbox relay of the notification database, publishing task rows to the test's vhost."""
    connection = await connect(amqp_url, connection_name="notification-test-relay")
    relay = OutboxRelay(database, connection, settings=RelaySettings(poll_interval=0.2))
    await relay.start()
    yield relay
    await relay.stop()
    await connection.close()


@pytest.fixture
def decide_and_dispatch(database: AsyncEngine, relay: OutboxRelay, audience: Audience) -> Callable[..., Any]:
    """Run the deciding handler on an event as the consumer would; the relay publishes its task rows."""
    renderer = Renderer()

    async def run(
        event: Contract, envelope: Envelope, *, audience_override: Audience | None = None
    ) -> list[str]:
        uow = NotificationUnitOfWork(database).for_message(envelope, handler="notification.test")
        try:
            return await notify(
                event, envelope, uow=uow, audience=audience_override or audience, renderer=renderer
            )
        except AlreadyHandled:
            return []

    return run
