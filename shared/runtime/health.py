"""``/healthz`` (alive), ``/readyz`` (dependencies reachable) and ``/metrics`` (Prometheus) for any service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import prometheus_client
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

ReadinessCheck = Callable[[], Awaitable[object]]
CHECK_TIMEOUT = 2.0


def health_router(checks: Mapping[str, ReadinessCheck]) -> APIRouter:
    """Routes for liveness, readiness (each check must finish without raising within 2 s) and metrics."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Database and broker are reachable")
    async def readyz() -> JSONResponse:
        results = await asyncio.gather(*(_run(check) for check in checks.values()))
        report: dict[str, Any] = dict(zip(checks, results, strict=True))
        ready = all(result == "ok" for result in results)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": report}, 200 if ready else 503
        )

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(prometheus_client.generate_latest(), media_type=prometheus_client.CONTENT_TYPE_LATEST)

    return router


async def _run(check: ReadinessCheck) -> str:
    try:
        await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT)
    except Exception as exc:
        return f"failed: {type(exc).__name__}: {exc}"
    return "ok"


def database_check(engine: Any) -> ReadinessCheck:
    """Readiness check that runs ``SELECT 1`` on a SQLAlchemy ``AsyncEngine``."""
    from sqlalchemy import text

    async def check() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return check


def broker_check(connection: Any) -> ReadinessCheck:
    """Readiness check that fails while the robust AMQP connection is down (it reconnects by itself)."""

    async def check() -> None:
        if connection.is_closed:
            raise ConnectionError("AMQP connection is closed (reconnecting)")
        await connection.ready()

    return check
