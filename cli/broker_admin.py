"""The management-API calls broker set-up needs beyond :class:`shared.messaging.management.ManagementClient`:
users, policies and exchanges, with errors turned into one readable :class:`BrokerUnreachable`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx


class BrokerUnreachable(RuntimeError):
    """The management API did not answer (broker down, plugin disabled, wrong URL)."""


class BrokerRefused(RuntimeError):
    """The management API answered with an error (bad credentials, missing administrator tag)."""


def _q(name: str) -> str:
    return quote(name, safe="")


class BrokerAdmin:
    """Synchronous management-API client for set-up and inspection from the command line."""

    def __init__(self, base_url: str, user: str, password: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url + "/api", auth=(user, password), timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BrokerAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise BrokerUnreachable(
                f"RabbitMQ management API at {self.base_url} is not reachable: {exc}"
            ) from exc
        if response.status_code == 401:
            raise BrokerRefused(f"RabbitMQ management API at {self.base_url} refused the credentials")
        if response.status_code >= 400 and not (method == "DELETE" and response.status_code == 404):
            raise BrokerRefused(f"{method} {path}: {response.status_code} {response.text}")
        return response

    def overview(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/overview").json()
        return result

    def put_vhost(self, vhost: str, description: str = "") -> None:
        self._call("PUT", f"/vhosts/{_q(vhost)}", json={"description": description})

    def delete_vhost(self, vhost: str) -> None:
        self._call("DELETE", f"/vhosts/{_q(vhost)}")

    def put_user(self, user: str, password: str, tags: tuple[str, ...] = ()) -> None:
        self._call("PUT", f"/users/{_q(user)}", json={"password": password, "tags": ",".join(tags)})

    def delete_user(self, user: str) -> None:
        self._call("DELETE", f"/users/{_q(user)}")

    def put_permissions(self, vhost: str, user: str, permissions: dict[str, str]) -> None:
        self._call("PUT", f"/permissions/{_q(vhost)}/{_q(user)}", json=permissions)

    def permissions(self, vhost: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", f"/vhosts/{_q(vhost)}/permissions").json()
        return result

    def put_policy(self, vhost: str, name: str, body: dict[str, Any]) -> None:
        self._call("PUT", f"/policies/{_q(vhost)}/{_q(name)}", json=body)

    def policies(self, vhost: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", f"/policies/{_q(vhost)}").json()
        return result

    def put_exchange(self, vhost: str, name: str, exchange_type: str) -> None:
        body = {
            "type": exchange_type,
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        }
        self._call("PUT", f"/exchanges/{_q(vhost)}/{_q(name)}", json=body)

    def exchanges(self, vhost: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", f"/exchanges/{_q(vhost)}").json()
        return result

    def queues(self, vhost: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", f"/queues/{_q(vhost)}").json()
        return result

    def queue(self, vhost: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/queues/{_q(vhost)}/{_q(name)}").json()
        return result

    def bindings(self, vhost: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", f"/bindings/{_q(vhost)}").json()
        return result

    def import_definitions(self, definitions: dict[str, Any]) -> None:
        self._call("POST", "/definitions", json=definitions)
