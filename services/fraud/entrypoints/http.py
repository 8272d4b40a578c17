"""Fraud's HTTP surface: operations only (health, readiness, metrics); decisions travel as events."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI

from shared.runtime.health import ReadinessCheck, health_router


def create_app(checks: Mapping[str, ReadinessCheck]) -> FastAPI:
    app = FastAPI(title="Warren fraud", version="1.0.0")
    app.include_router(health_router(checks))
    return app
