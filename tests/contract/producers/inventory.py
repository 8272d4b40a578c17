"""inventory's messages, built by its real domain model (stand-in until inventory ships contract_examples.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from inventory.domain.model import Reservation, basket_lines, low_stock
from shared.contracts.base import Contract
from shared.contracts.values import LineItem

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TTL = timedelta(minutes=15)


def examples() -> Iterator[Contract]:
    """Reserved (then committed, and another released), rejected for short stock, and a low-stock warning."""
    basket = [
        LineItem(sku="sku-1", quantity=2, unit_amount=1250),
        LineItem(sku="sku-2", quantity=1, unit_amount=99),
    ]
    lines = basket_lines(basket)

    committed = Reservation.hold("pay-captured", lines, now=NOW, ttl=TTL)
    committed.commit()
    released = Reservation.hold("pay-declined", lines, now=NOW, ttl=TTL)
    released.release("payment.declined")
    refused = Reservation.refuse("pay-short", lines, ["sku-2"], now=NOW)
    committed.note_low_stock(low_stock(lines, {"sku-1": 3, "sku-2": 40}, threshold=4))

    for reservation in (committed, released, refused):
        yield from reservation.events
