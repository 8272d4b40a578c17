"""The HTTP view of notifications and the readiness route, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from notification.adapters.migrate import upgrade
from notification.adapters.rendering import Renderer
from notification.adapters.unit_of_work import NotificationUnitOfWork
from notification.domain.decisions import Audience
from notification.entrypoints.http import create_app
from notification.service_layer.handlers import notify
from notification.tests.factories import envelope_for, outcome
from shared.persistence.engine import create_engine
from shared.runtime.health import database_check

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def test_notifications_are_listed_and_shown_when_stored(engine: AsyncEngine) -> None:
    event = outcome("captured", email="ada@example.com")
    envelope = envelope_for(event, correlation_id="corr-http")
    uow = NotificationUnitOfWork(engine)
    [nid] = await notify(event, envelope, uow=uow, audience=Audience("ops@warren.test"), renderer=Renderer())
    app = create_app(engine, {"database": database_check(engine)})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        [listed] = (await http.get("/notifications", params={"correlation_id": "corr-http"})).json()
        assert listed["id"] == nid
        assert listed["status"] == "pending"
        assert "body_text" not in listed
        assert (await http.get("/notifications", params={"status": "sent"})).json() == []
        about = (
            await http.get("/notifications", params={"about": f"payment.captured:{event.payment_id}"})
        ).json()
        assert [n["id"] for n in about] == [nid]
        one = (await http.get(f"/notifications/{nid}")).json()
        assert "123.45 EUR" in one["body_text"]
        assert (await http.get("/notifications/nope")).status_code == 404
        assert (await http.get("/readyz")).json()["status"] == "ready"
