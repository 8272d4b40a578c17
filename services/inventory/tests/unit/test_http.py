from __future__ import annotations

import httpx

from inventory.domain.model import Line
from inventory.entrypoints.http import create_app


def client(uow) -> httpx.AsyncClient:
    app = create_app(lambda: uow, {})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://inventory")


async def test_stock_is_readable_with_all_three_counts_when_it_was_set(uow) -> None:
    async with client(uow) as http:
        put = await http.put("/stock/SKU-1", json={"available": 7})
        get = await http.get("/stock/SKU-1")
    assert put.status_code == 200
    assert get.json() == {"sku": "SKU-1", "available": 7, "reserved": 0, "sold": 0}


async def test_unknown_sku_answers_404_when_it_was_never_stocked(uow) -> None:
    async with client(uow) as http:
        response = await http.get("/stock/none")
    assert response.status_code == 404


async def test_negative_or_missing_available_answers_422_naming_the_field_when_put(uow) -> None:
    async with client(uow) as http:
        negative = await http.put("/stock/A", json={"available": -1})
        missing = await http.put("/stock/A", json={})
    assert negative.status_code == missing.status_code == 422
    assert negative.json()["detail"][0]["loc"] == ["body", "available"]
    assert missing.json()["detail"][0]["loc"] == ["body", "available"]


async def test_setting_available_keeps_reserved_and_sold_when_units_are_held(uow, policy) -> None:
    await uow.stock.set_available("A", 5)
    await uow.stock.take((Line("A", 2),))
    async with client(uow) as http:
        response = await http.put("/stock/A", json={"available": 10})
    assert response.json() == {"sku": "A", "available": 10, "reserved": 2, "sold": 0}
