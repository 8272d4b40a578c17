"""What every Warren service process is made of, assembled one way.

A service's ``build`` opens :class:`ServiceResources` (its database engine and its broker connection), builds what
is its own (handlers, HTTP app, sweepers, clients to other systems) and asks :meth:`ServiceResources.assemble`
for the components in the one order every service runs them:

1. ``resources``: declares the topology before anything publishes, and closes clients, the broker connection and
   the engine last;
2. anything that must exist before the relay publishes (notification's Celery task queues);
3. the outbox relay: started before the consumers and stopped after them, so it publishes what they committed;
4. the consumers;
5. background work (sweepers);
6. the HTTP server: the last to start and the first to stop, so no checkout is accepted during shutdown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from aio_pika.abc import AbstractRobustConnection
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import DEFAULT_DATABASE_POOL_SIZE, ServiceSettings
from shared.messaging.connection import connect
from shared.messaging.declare import declare
from shared.messaging.topology import Topology
from shared.outbox.relay import OutboxRelay
from shared.persistence.engine import create_engine, is_sqlite
from shared.runtime.health import ReadinessCheck, broker_check, database_check
from shared.runtime.http_server import HttpServer
from shared.runtime.lifecycle import CallbackComponent, Component, run_until_stopped


def service_engine(database_url: str, *, pool_size: int = DEFAULT_DATABASE_POOL_SIZE) -> AsyncEngine:
    """The engine a service runs on: a fixed-size connection pool on PostgreSQL, one pooled connection on SQLite.

    SQLite has one writer anyway; units of work waiting in the pool's queue are served fairly and promptly,
    where connections contending for the file lock sleep in SQLite's busy handler (up to 100 ms a nap). The
    outbox relay publishes outside any connection, so it does not hold the one connection while it waits on
    the broker.

    PostgreSQL: no overflow. Overflow connections are closed as soon as they come back, so a burst that needs
    more than the pool opened and closed a server backend per unit of work (measured in the checkout bench:
    payment opened 74 sessions in one run, each a forked backend with its start-up queries, about 1 ms of machine
    time per checkout). Units of work beyond the pool wait for a connection instead, which costs nothing while
    the database is the bottleneck anyway. Size the pool with ``<SERVICE>_DATABASE_POOL_SIZE``.
    """
    if is_sqlite(database_url):
        return create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=60)
    return create_engine(database_url, pool_size=pool_size, max_overflow=0)


@dataclass
class Service:
    """Everything ``serve`` runs, in start order; tests start it in-process and read ``http.port``."""

    components: list[Component]
    http: HttpServer


@dataclass
class ServiceResources:
    """One service process's engine and broker connection, built at start-up and closed at stop."""

    name: str
    engine: AsyncEngine
    connection: AbstractRobustConnection
    _closers: list[Callable[[], Awaitable[object]]] = field(default_factory=list)

    @classmethod
    async def open(cls, name: str, settings: ServiceSettings) -> ServiceResources:
        """Build the engine and connect to the broker (the connection is named after the service in the UI)."""
        engine = service_engine(settings.database_url, pool_size=settings.database_pool_size)
        try:
            connection = await connect(settings.amqp_url, connection_name=name)
        except BaseException:
            await engine.dispose()
            raise
        return cls(name, engine, connection)

    def close_with(self, closer: Callable[[], Awaitable[object]]) -> None:
        """Close another resource (an HTTP client) at stop, before the connection and the engine."""
        self._closers.append(closer)

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        """The ``/readyz`` checks every service has: its database and its broker connection."""
        return {"database": database_check(self.engine), "broker": broker_check(self.connection)}

    def assemble(
        self,
        *,
        topology: Topology,
        consumer: Component,
        http: HttpServer,
        before_relay: Iterable[Component] = (),
        background: Iterable[Component] = (),
    ) -> Service:
        """The service's components in the standard order (see the module docstring)."""
        components: list[Component] = [
            CallbackComponent("resources", start=lambda: declare(self.connection, topology), stop=self.close),
            *before_relay,
            OutboxRelay(self.engine, self.connection),
            consumer,
            *background,
            http,
        ]
        return Service(components, http)

    async def close(self) -> None:
        """Close the extra resources (last registered first), then the broker connection, then the engine."""
        for closer in reversed(self._closers):
            await closer()
        await self.connection.close()
        await self.engine.dispose()


async def run_service(service: Service, settings: ServiceSettings) -> None:
    """Run ``service`` until SIGTERM/SIGINT, giving in-flight work the settings' shutdown grace to finish."""
    await run_until_stopped(service.components, stop_timeout=settings.shutdown_grace_seconds)
