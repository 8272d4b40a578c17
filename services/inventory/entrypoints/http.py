"""Inventory's HTTP API: set and read a SKU's stock; health, readiness and metrics."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import FastAPI, HTTPException, Path
from pydantic import BaseModel, Field

from inventory.service_layer import handlers
from inventory.service_layer.ports import InventoryUnitOfWork
from shared.runtime.health import ReadinessCheck, health_router

SkuPath = Annotated[str, Path(min_length=1, max_length=64)]


class StockUpdate(BaseModel):
    available: int = Field(ge=0, description="units free to reserve (held and sold units are kept)")


class StockView(BaseModel):
    sku: str
    available: int
    reserved: int
    sold: int


def create_app(
    uow_factory: Callable[[], InventoryUnitOfWork], checks: Mapping[str, ReadinessCheck]
) -> FastAPI:
    app = FastAPI(title="Warren inventory", version="1.0.0")
    app.include_router(health_router(checks))

    @app.put("/stock/{sku}", response_model=StockView, summary="Set the units available for a SKU")
    async def put_stock(sku: SkuPath, body: StockUpdate) -> StockView:
        level = await handlers.set_stock(sku, body.available, uow_factory())
        return StockView(sku=level.sku, available=level.available, reserved=level.reserved, sold=level.sold)

    @app.get(
        "/stock/{sku}",
        response_model=StockView,
        summary="A SKU's available, reserved and sold units",
        responses={404: {"description": "unknown SKU"}},
    )
    async def get_stock(sku: SkuPath) -> StockView:
        try:
            level = await handlers.stock_level(sku, uow_factory())
        except handlers.UnknownSku:
            raise HTTPException(404, f"unknown SKU {sku!r}") from None
        return StockView(sku=level.sku, available=level.available, reserved=level.reserved, sold=level.sold)

    return app
