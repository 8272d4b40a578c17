"""``python -m inventory migrate`` then ``serve`` as a real process: it works, and SIGTERM stops it cleanly."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from shared.contracts import envelope_for
from shared.contracts.payment import PaymentRequested
from shared.messaging.connection import confirm_channel, connect
from shared.messaging.publisher import Publisher
from shared.testing.processes import ServiceProcess, free_port
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration


async def test_process_reserves_and_stops_gracefully_when_sent_sigterm(
    amqp_url: str, postgres_url: str, tmp_path: Path
) -> None:
    env = {
        "INVENTORY_AMQP_URL": amqp_url,
        "INVENTORY_DATABASE_URL": postgres_url,
        "INVENTORY_HTTP_PORT": str(free_port()),
    }
    inventory = ServiceProcess("inventory", int(env["INVENTORY_HTTP_PORT"]), env, tmp_path / "inventory.log")
    await inventory.run("migrate")
    await inventory.start()
    try:
        async with httpx.AsyncClient(base_url=inventory.url) as http:
            (await http.put("/stock/SKU-1", json={"available": 4})).raise_for_status()
            connection = await connect(amqp_url, connection_name="inventory-process-test")
            try:
                request = PaymentRequested.model_validate(
                    {
                        "payment_id": "p1",
                        "order_id": "o1",
                        "customer": {"id": "c1", "email": "c@example.com", "country": "NL"},
                        "items": [{"sku": "SKU-1", "quantity": 3, "unit_amount": 100}],
                        "amount": 300,
                        "currency": "EUR",
                    }
                )
                await Publisher(await confirm_channel(connection)).publish(
                    "payment.events", envelope_for(request)
                )
            finally:
                await connection.close()

            async def held() -> bool:
                return (await http.get("/stock/SKU-1")).json()["reserved"] == 3

            await wait_for(held, timeout=15, message="basket held by the process")
    finally:
        code = await inventory.stop()
    assert code == 0, inventory.tail()
    assert "stopped" in inventory.tail()
