"""HTTP API: operations routes plus a read-only view of notifications (for operators and the demo)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from notification.adapters.orm import notifications
from shared.runtime.health import ReadinessCheck, health_router

_PUBLIC_FIELDS = (
    "id",
    "dedupe_key",
    "channel",
    "recipient",
    "template",
    "subject",
    "status",
    "attempts",
    "last_error",
    "correlation_id",
    "created_at",
    "sent_at",
    "failed_at",
)


def create_app(engine: AsyncEngine, checks: dict[str, ReadinessCheck]) -> FastAPI:
    app = FastAPI(title="Warren notification", version="1")
    app.include_router(health_router(checks))
    columns = [notifications.c[name] for name in _PUBLIC_FIELDS]

    @app.get("/notifications", summary="Latest notifications, newest first")
    async def list_notifications(
        status: str | None = None,
        correlation_id: str | None = None,
        about: str | None = Query(default=None, description="dedupe key prefix, e.g. payment.captured:pay-1"),
        limit: int = Query(default=50, ge=1, le=500),
    ) -> list[dict[str, Any]]:
        query = select(*columns).order_by(notifications.c.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(notifications.c.status == status)
        if correlation_id is not None:
            query = query.where(notifications.c.correlation_id == correlation_id)
        if about is not None:
            query = query.where(notifications.c.dedupe_key.startswith(about, autoescape=True))
        async with engine.connect() as connection:
            return [dict(row._mapping) for row in await connection.execute(query)]

    @app.get("/notifications/{notification_id}", summary="One notification with its rendered body")
    async def get_notification(notification_id: str) -> dict[str, Any]:
        query = select(notifications).where(notifications.c.id == notification_id)
        async with engine.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            raise HTTPException(status_code=404, detail=f"no notification {notification_id}")
        return dict(row._mapping)

    return app
