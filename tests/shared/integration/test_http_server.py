import httpx
import pytest
from fastapi import FastAPI

from shared.runtime.http_server import HttpServer

pytestmark = pytest.mark.integration


async def test_http_server_serves_until_stopped_when_bound_to_a_free_port() -> None:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    server = HttpServer(app, host="127.0.0.1", port=0)
    await server.start()
    try:
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://127.0.0.1:{server.port}/ping")
        assert response.json() == {"pong": "yes"}
    finally:
        await server.stop()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(f"http://127.0.0.1:{server.port}/ping")
