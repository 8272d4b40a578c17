"""A small client for the RabbitMQ management HTTP API (vhosts, permissions, queues, connections).

Used by the operator CLI, topology drift checks and the test fixtures; services never need it to run.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_MANAGEMENT_URL = "http://127.0.0.1:15672"


def _q(name: str) -> str:
    return quote(name, safe="")


class ManagementClient:
    """Async wrapper over ``/api``; every method raises ``httpx.HTTPStatusError`` on a non-2xx answer."""

    def __init__(self, base_url: str = DEFAULT_MANAGEMENT_URL, user: str = "guest", password: str = "guest"):
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/api", auth=(user, password), timeout=10
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ManagementClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _get(self, path: str, **params: Any) -> Any:
        response = await self._http.get(path, params=params or None)
        response.raise_for_status()
        return response.json()

    async def create_vhost(self, vhost: str) -> None:
        (await self._http.put(f"/vhosts/{_q(vhost)}", json={})).raise_for_status()

    async def delete_vhost(self, vhost: str) -> None:
        response = await self._http.delete(f"/vhosts/{_q(vhost)}")
        if response.status_code != 404:
            response.raise_for_status()

    async def set_permissions(
        self, vhost: str, user: str, configure: str = ".*", write: str = ".*", read: str = ".*"
    ) -> None:
        body = {"configure": configure, "write": write, "read": read}
        (await self._http.put(f"/permissions/{_q(vhost)}/{_q(user)}", json=body)).raise_for_status()

    async def queue(self, vhost: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._get(f"/queues/{_q(vhost)}/{_q(name)}")
        return result

    async def queues(self, vhost: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._get(f"/queues/{_q(vhost)}")
        return result

    async def exchanges(self, vhost: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._get(f"/exchanges/{_q(vhost)}")
        return result

    async def bindings(self, vhost: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._get(f"/bindings/{_q(vhost)}")
        return result

    async def connections(self, vhost: str | None = None) -> list[dict[str, Any]]:
        path = f"/vhosts/{_q(vhost)}/connections" if vhost else "/connections"
        result: list[dict[str, Any]] = await self._get(path)
        return result

    async def close_connection(self, name: str, reason: str = "closed by operator") -> None:
        response = await self._http.delete(f"/connections/{_q(name)}", headers={"X-Reason": reason})
        if response.status_code != 404:
            response.raise_for_status()
