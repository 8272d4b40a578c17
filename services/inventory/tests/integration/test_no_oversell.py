"""The never-oversell proof: many concurrent reservations against few units, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.adapters.tables import reservations
from inventory.adapters.unit_of_work import SqlInventoryUnitOfWork
from inventory.service_layer import handlers
from shared.contracts.payment import PaymentRequested
from shared.persistence.engine import create_engine

pytestmark = pytest.mark.integration


def requested(payment_id: str, **quantities: int) -> PaymentRequested:
    return PaymentRequested(
        payment_id=payment_id,
        order_id=f"order-{payment_id}",
        customer={"id": "c1", "email": "c@example.com", "country": "NL"},
        items=[{"sku": sku, "quantity": q, "unit_amount": 100} for sku, q in quantities.items()],
        amount=100,
        currency="EUR",
    )


async def reserve(engine: AsyncEngine, event: PaymentRequested) -> None:
    # The same handler the consumer runs; no retries here: contention must never surface as an error.
    await handlers.reserve_basket(event, SqlInventoryUnitOfWork(engine), handlers.ReservationPolicy())


async def status_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(reservations.c.status, func.count()).group_by(reservations.c.status)
        )
        return {status: count for status, count in rows}


async def test_exactly_the_available_units_are_reserved_when_200_reserve_50_at_once(
    engine: AsyncEngine, database_url: str, outbox
) -> None:
    # Two engines: two service instances with their own connection pools on the same database.
    second = create_engine(database_url)
    try:
        engines = [engine, second]
        await handlers.set_stock("LAST", 50, SqlInventoryUnitOfWork(engine))
        await asyncio.gather(*(reserve(engines[n % 2], requested(f"p{n}", LAST=1)) for n in range(200)))
    finally:
        await second.dispose()
    level = await handlers.stock_level("LAST", SqlInventoryUnitOfWork(engine))
    assert (level.available, level.reserved, level.sold) == (0, 50, 0)
    assert await status_counts(engine) == {"reserved": 50, "rejected": 150}
    types = await outbox(engine)
    assert (types.count("inventory.reserved.v1"), types.count("inventory.rejected.v1")) == (50, 150)


async def test_baskets_never_hold_part_of_their_lines_when_they_overlap_concurrently(
    engine: AsyncEngine,
) -> None:
    for sku in ("A", "B", "C"):
        await handlers.set_stock(sku, 20, SqlInventoryUnitOfWork(engine))
    baskets = [{"A": 1, "B": 2}, {"B": 1, "C": 1}, {"A": 2, "C": 3}] * 20
    await asyncio.gather(*(reserve(engine, requested(f"p{n}", **b)) for n, b in enumerate(baskets)))
    held = {"A": 0, "B": 0, "C": 0}
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(reservations.c.lines).where(reservations.c.status == "reserved")
        )
        for (lines,) in rows:
            for sku, quantity in lines:
                held[sku] += quantity
    for sku, quantity in held.items():
        level = await handlers.stock_level(sku, SqlInventoryUnitOfWork(engine))
        assert level.reserved == quantity
        assert level.available == 20 - quantity >= 0
