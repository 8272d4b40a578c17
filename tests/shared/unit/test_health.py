import httpx
from fastapi import FastAPI

from shared.runtime.health import health_router


async def ok() -> None:
    return None


async def broken() -> None:
    raise ConnectionError("broker unreachable")


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service")


async def test_readyz_is_503_and_names_the_failing_check_when_a_dependency_is_down() -> None:
    app = FastAPI()
    app.include_router(health_router({"database": ok, "broker": broken}))
    async with client(app) as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert "broker unreachable" in body["checks"]["broker"]


async def test_readyz_is_200_and_metrics_are_exposed_when_all_checks_pass() -> None:
    app = FastAPI()
    app.include_router(health_router({"database": ok}))
    async with client(app) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/readyz")).status_code == 200
        metrics = await http.get("/metrics")
    assert metrics.status_code == 200
    assert "python_info" in metrics.text
