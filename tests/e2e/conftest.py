"""The checkout suite as separate processes, fresh for each test: its own vhost, databases and free ports."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared.testing.fixtures import POSTGRES_BASE, unique
from shared.testing.processes import ServiceProcess, free_port
from shared.testing.waiting import wait_for

FINAL = {"captured", "declined", "rejected", "cancelled", "failed"}
# Fast clocks for the tests: a gateway that answers "too late" after 3 s, charges retried after 0.3 s.
GATEWAY_TIMEOUT_DELAY = 3.0


@dataclass
class Suite:
    """Handles on the running suite, plus the calls the tests make."""

    payment: ServiceProcess
    fraud: ServiceProcess
    inventory: ServiceProcess
    gateway: ServiceProcess
    http: httpx.AsyncClient
    processes: list[ServiceProcess] = field(default_factory=list)

    async def checkout(
        self,
        *,
        token: str = "tok_visa",
        sku: str = "sku-1",
        quantity: int = 1,
        unit_amount: int = 1500,
        customer_id: str | None = None,
        email: str = "ada@example.com",
        country: str = "GB",
        key: str | None = None,
    ) -> httpx.Response:
        body = checkout_body(
            token=token,
            sku=sku,
            quantity=quantity,
            unit_amount=unit_amount,
            customer_id=customer_id or f"cust-{uuid.uuid4().hex[:8]}",
            email=email,
            country=country,
        )
        return await self.post_checkout(body, key=key or str(uuid.uuid4()))

    async def post_checkout(self, body: dict[str, Any], *, key: str) -> httpx.Response:
        return await self.http.post(
            f"{self.payment.url}/payments", json=body, headers={"Idempotency-Key": key}
        )

    async def payment_view(self, payment_id: str) -> dict[str, Any]:
        response = await self.http.get(f"{self.payment.url}/payments/{payment_id}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def wait_status(
        self, payment_id: str, statuses: set[str], *, timeout: float = 30.0
    ) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            view = await self.payment_view(payment_id)
            return view if view["status"] in statuses else None

        return await wait_for(reached, timeout=timeout, interval=0.1, message=f"{payment_id} in {statuses}")

    async def wait_final(self, payment_id: str, *, timeout: float = 30.0) -> dict[str, Any]:
        return await self.wait_status(payment_id, FINAL, timeout=timeout)

    async def wait_all_final(self, ids: list[str], *, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Poll every payment (a few at a time, so polling does not load the suite) until all are final."""
        views: dict[str, dict[str, Any]] = {}
        limit = asyncio.Semaphore(8)

        async def poll(payment_id: str) -> None:
            async with limit:
                view = await self.payment_view(payment_id)
            if view["status"] in FINAL:
                views[payment_id] = view

        async def all_final() -> bool:
            await asyncio.gather(*(poll(i) for i in ids if i not in views))
            return len(views) == len(ids)

        await wait_for(all_final, timeout=timeout, interval=0.5, message=f"{len(ids)} payments final")
        return [views[i] for i in ids]

    async def set_stock(self, sku: str, available: int) -> None:
        response = await self.http.put(f"{self.inventory.url}/stock/{sku}", json={"available": available})
        response.raise_for_status()

    async def stock(self, sku: str) -> dict[str, Any]:
        response = await self.http.get(f"{self.inventory.url}/stock/{sku}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def charges(self, payment_id: str) -> list[dict[str, Any]]:
        response = await self.http.get(f"{self.gateway.url}/v1/charges", params={"reference": payment_id})
        result: list[dict[str, Any]] = response.json()
        return result

    async def chaos(self, mode: str, seconds: float, delay: float = 0.0) -> None:
        body = {"mode": mode, "seconds": seconds, "delay": delay}
        (await self.http.post(f"{self.gateway.url}/admin/chaos", json=body)).raise_for_status()

    async def calm(self) -> None:
        (await self.http.delete(f"{self.gateway.url}/admin/chaos")).raise_for_status()


def checkout_body(
    *,
    token: str = "tok_visa",
    sku: str = "sku-1",
    quantity: int = 1,
    unit_amount: int = 1500,
    customer_id: str = "cust-1",
    email: str = "ada@example.com",
    country: str = "GB",
) -> dict[str, Any]:
    return {
        "order_id": f"order-{uuid.uuid4().hex[:8]}",
        "customer": {"id": customer_id, "email": email, "country": country},
        "items": [{"sku": sku, "quantity": quantity, "unit_amount": unit_amount}],
        "currency": "EUR",
        "payment_method": {"token": token},
    }


async def create_database() -> tuple[str, Callable[[], Any]]:
    """A fresh PostgreSQL database (SQLAlchemy URL) and the coroutine function that drops it."""
    name = unique("e2e").replace("-", "_")
    admin = await asyncpg.connect(f"{POSTGRES_BASE}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()

    async def drop() -> None:
        admin = await asyncpg.connect(f"{POSTGRES_BASE}/postgres")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    return f"{POSTGRES_BASE.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}", drop


async def start_suite(
    stack: AsyncExitStack,
    *,
    amqp_url: str,
    workdir: Path,
    backend: str = "sqlite",
    payment_env: dict[str, str] | None = None,
    fraud_env: dict[str, str] | None = None,
    inventory_env: dict[str, str] | None = None,
) -> Suite:
    """Migrate and start gateway, fraud, inventory and payment; stop them (gracefully) on ``stack`` exit."""

    async def database(service: str) -> str:
        if backend == "sqlite":
            return f"sqlite+aiosqlite:///{workdir / f'{service}.db'}"
        url, drop = await create_database()
        stack.push_async_callback(drop)
        return url

    def service(module: str, prefix: str, extra: dict[str, str] | None, db: str) -> ServiceProcess:
        port = free_port()
        env = {
            f"{prefix}_AMQP_URL": amqp_url,
            f"{prefix}_DATABASE_URL": db,
            f"{prefix}_HTTP_PORT": str(port),
            f"{prefix}_ENVIRONMENT": "test",
            f"{prefix}_SHUTDOWN_GRACE_SECONDS": "10",
            **(extra or {}),
        }
        return ServiceProcess(module, port, env, workdir / f"{module}.log")

    gateway_port = free_port()
    gateway = ServiceProcess(
        "gateway_sandbox",
        gateway_port,
        {
            "GATEWAY_SANDBOX_PORT": str(gateway_port),
            "GATEWAY_SANDBOX_TIMEOUT_DELAY": str(GATEWAY_TIMEOUT_DELAY),
        },
        workdir / "gateway_sandbox.log",
    )
    fraud = service("fraud", "FRAUD", fraud_env, await database("fraud"))
    inventory = service("inventory", "INVENTORY", inventory_env, await database("inventory"))
    payment = service(
        "payment",
        "PAYMENT",
        {
            "PAYMENT_GATEWAY_URL": gateway.url,
            "PAYMENT_GATEWAY_TIMEOUT_SECONDS": "1",
            "PAYMENT_CHARGE_RETRY_BASE_SECONDS": "0.3",
            "PAYMENT_CHARGE_RETRY_MAX_SECONDS": "1",
            "PAYMENT_CHARGE_LEASE_SECONDS": "5",
            "PAYMENT_SWEEP_INTERVAL_SECONDS": "0.2",
            **(payment_env or {}),
        },
        await database("payment"),
    )
    services = [fraud, inventory, payment]
    await asyncio.gather(*(s.run("migrate") for s in services))
    processes = [gateway, *services]
    for process in processes:
        stack.push_async_callback(process.stop)
    # Consumers declare their own queues, so start order does not matter; start them together.
    await asyncio.gather(*(p.start() for p in processes))
    http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
    return Suite(payment, fraud, inventory, gateway, http, processes)


@pytest.fixture
async def suite(amqp_url: str, tmp_path: Path) -> AsyncIterator[Suite]:
    async with AsyncExitStack() as stack:
        yield await start_suite(stack, amqp_url=amqp_url, workdir=tmp_path)


@pytest.fixture
async def review_suite(amqp_url: str, tmp_path: Path) -> AsyncIterator[Suite]:
    """The suite with fraud sending every customer from ``XR`` to review."""
    async with AsyncExitStack() as stack:
        yield await start_suite(
            stack, amqp_url=amqp_url, workdir=tmp_path, fraud_env={"FRAUD_REVIEW_COUNTRIES": '["XR"]'}
        )
