"""The flaky HTTP dependency driven over HTTP, as a test drives it when its dependants run as processes."""

from pathlib import Path

import httpx
import pytest

from shared.resilience import idempotency_headers
from shared.testing.flaky_http import FlakyHttpServer
from shared.testing.processes import ServiceProcess, free_port

pytestmark = pytest.mark.integration


async def test_remote_control_scripts_answers_and_reports_effects_when_run_as_a_process(
    tmp_path: Path,
) -> None:
    port = free_port()
    process = ServiceProcess(
        "shared.testing.flaky_http",
        port,
        env={},
        log=tmp_path / "flaky.log",
        args=("--port", str(port)),
        ready_path="/_flaky/state",
    )
    await process.start(timeout=30)
    try:
        async with httpx.AsyncClient(base_url=process.url, timeout=5) as http:
            await http.post("/_flaky/script", json=[{"status": 429, "retry_after": "3"}])
            await http.put("/_flaky/default", json={"status": 503})
            limited = await http.post("/charges", json={"n": 1}, headers=idempotency_headers("k-1"))
            assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
            assert (await http.post("/charges", headers=idempotency_headers("k-1"))).status_code == 503
            await http.post("/_flaky/healthy")
            for _ in range(2):
                assert (await http.post("/charges", headers=idempotency_headers("k-1"))).status_code == 200
            state = (await http.get("/_flaky/state")).json()
        assert state["effects"] == {"k-1": 1}  # the repeat was replayed, not performed again
        assert state["requests"] == 4
    finally:
        assert await process.stop(grace=10) == 0


async def test_remote_control_sets_an_outage_window_when_asked() -> None:
    async with FlakyHttpServer() as provider, httpx.AsyncClient(base_url=provider.url) as http:
        await http.put("/_flaky/default", json={"outage_for": 30})
        assert (await http.get("/anything")).status_code == 503
        await http.put("/_flaky/default", json={"flapping": {"up": 30, "down": 1}})
        assert (await http.get("/anything")).status_code == 200
        await http.put("/_flaky/default", json={"status": 402, "body": {"declined": True}})
        declined = await http.post("/charges", headers=idempotency_headers("k-2"))
        assert declined.json()["declined"] is True
        assert not provider.effects
