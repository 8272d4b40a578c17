"""One message of every type inventory emits, built by its real domain code (read by the contract tools)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from inventory.domain.model import Line, Reservation, low_stock
from shared.contracts.base import Contract

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LINES = (Line("sku-1", 2), Line("sku-2", 1))


def examples() -> Iterable[Contract]:
    held = Reservation.hold("pay-1", LINES, now=NOW, ttl=timedelta(minutes=15))
    held.note_low_stock(low_stock(LINES, {"sku-1": 4, "sku-2": 40}, threshold=5))
    held.commit()
    yield from held.events
    released = Reservation.hold("pay-2", LINES, now=NOW, ttl=timedelta(minutes=15))
    released.release("payment.declined")
    yield from released.events[1:]
    yield from Reservation.refuse("pay-3", LINES, ["sku-2"], now=NOW).events
