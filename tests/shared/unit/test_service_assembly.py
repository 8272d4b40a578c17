from typing import Any, cast

from fastapi import FastAPI

from shared.messaging.topology import Topology
from shared.runtime.http_server import HttpServer
from shared.runtime.lifecycle import CallbackComponent
from shared.runtime.service import ServiceResources, service_engine


class Closing:
    """Stands in for the engine and the connection: records when it is closed."""

    def __init__(self, name: str, closed: list[str]) -> None:
        self.name = name
        self.closed = closed

    async def close(self) -> None:
        self.closed.append(self.name)

    async def dispose(self) -> None:
        self.closed.append(self.name)


def resources(closed: list[str]) -> ServiceResources:
    return ServiceResources(
        "svc", cast(Any, Closing("engine", closed)), cast(Any, Closing("connection", closed))
    )


def test_components_run_in_the_standard_order_when_a_service_is_assembled(tmp_path: Any) -> None:
    engine = service_engine(f"sqlite+aiosqlite:///{tmp_path}/svc.db")  # no connection until first use
    res = ServiceResources("svc", engine, cast(Any, Closing("connection", [])))
    http = HttpServer(FastAPI(), host="127.0.0.1", port=0)
    service = res.assemble(
        topology=Topology("svc"),
        consumer=CallbackComponent("consumer"),
        http=http,
        before_relay=[CallbackComponent("task queues")],
        background=[CallbackComponent("sweeper")],
    )
    names = [component.name for component in service.components]
    assert names[0] == "resources"
    assert names[1] == "task queues"
    assert "relay" in names[2]
    assert names[3:] == ["consumer", "sweeper", http.name]
    assert service.http is http


async def test_clients_close_before_the_connection_and_the_engine_when_resources_close() -> None:
    closed: list[str] = []
    res = resources(closed)

    async def close_client(name: str) -> None:
        closed.append(name)

    res.close_with(lambda: close_client("gateway client"))
    res.close_with(lambda: close_client("risk client"))
    await res.close()
    assert closed == ["risk client", "gateway client", "connection", "engine"]


# The pool settings used to be dropped on SQLite: services meant to keep one connection and kept five.
def test_sqlite_engine_keeps_one_connection_when_built_for_a_service(tmp_path: Any) -> None:
    engine = service_engine(f"sqlite+aiosqlite:///{tmp_path}/svc.db")
    assert engine.pool.size() == 1  # type: ignore[attr-defined]
    postgres = service_engine("postgresql+asyncpg://u@127.0.0.1/db")
    assert postgres.pool.size() > 1  # type: ignore[attr-defined]


# Overflow connections are closed as soon as they come back: under a burst every unit of work past the pool forked
# a PostgreSQL backend and closed it again (74 sessions in one bench run of payment).
def test_postgres_pool_has_a_fixed_size_so_bursts_never_churn_connections() -> None:
    engine = service_engine("postgresql+asyncpg://u@127.0.0.1/db", pool_size=7)
    assert engine.pool.size() == 7  # type: ignore[attr-defined]
    assert engine.pool._max_overflow == 0  # type: ignore[attr-defined]
