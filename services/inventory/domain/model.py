"""Reservations of a basket's stock and the rules that move them. Pure: no I/O.

Stock counts themselves change only through the repository's conditional updates (so two processes can
never both take the last unit); this module decides *whether* and *what* to move, and records the events.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from shared.contracts.base import Event
from shared.contracts.inventory import (
    ReservedLine,
    StockCommitted,
    StockLow,
    StockRejected,
    StockReleased,
    StockReserved,
)
from shared.contracts.values import LineItem


class ReservationStatus(StrEnum):
    RESERVED = "reserved"  # units moved from available to reserved, waiting for the payment's outcome
    REJECTED = "rejected"  # not enough stock: nothing was held
    COMMITTED = "committed"  # payment captured: units moved from reserved to sold
    RELEASED = "released"  # compensation or expiry: units returned to available
    CLOSED = "closed"  # the outcome arrived before the request: nothing held, and nothing will be


FINAL_STATUSES = frozenset(
    {
        ReservationStatus.REJECTED,
        ReservationStatus.COMMITTED,
        ReservationStatus.RELEASED,
        ReservationStatus.CLOSED,
    }
)


@dataclass(frozen=True, order=True)
class Line:
    sku: str
    quantity: int


def basket_lines(items: Iterable[LineItem]) -> tuple[Line, ...]:
    """One line per SKU (quantities summed), sorted by SKU: every transaction locks rows in the same order,
    so two baskets sharing SKUs cannot deadlock each other on PostgreSQL."""
    totals: dict[str, int] = {}
    for item in items:
        totals[item.sku] = totals.get(item.sku, 0) + item.quantity
    return tuple(Line(sku, quantity) for sku, quantity in sorted(totals.items()))


@dataclass
class Reservation:
    """What one payment holds. ``payment_id`` is the identity: one reservation per payment, ever."""

    payment_id: str
    reservation_id: str
    status: ReservationStatus
    lines: tuple[Line, ...]
    created_at: datetime
    expires_at: datetime | None = None
    reason: str | None = None
    events: list[Event] = field(default_factory=list, compare=False, repr=False)

    @property
    def id(self) -> str:
        return self.payment_id

    @classmethod
    def hold(cls, payment_id: str, lines: tuple[Line, ...], *, now: datetime, ttl: timedelta) -> Reservation:
        """Every line was taken from available stock: the basket is held until an outcome or expiry."""
        reservation = cls(
            payment_id=payment_id,
            reservation_id=str(uuid.uuid4()),
            status=ReservationStatus.RESERVED,
            lines=lines,
            created_at=now,
            expires_at=now + ttl,
        )
        reservation.events.append(reservation._reserved_event())
        return reservation

    @classmethod
    def refuse(
        cls, payment_id: str, lines: tuple[Line, ...], short_skus: Iterable[str], *, now: datetime
    ) -> Reservation:
        """At least one line could not be taken: nothing is held, and the event names the short SKUs."""
        short = tuple(sorted(set(short_skus)))
        reservation = cls(
            payment_id=payment_id,
            reservation_id=str(uuid.uuid4()),
            status=ReservationStatus.REJECTED,
            lines=lines,
            created_at=now,
            reason="insufficient stock: " + ", ".join(short),
        )
        reservation.events.append(reservation._rejected_event(short))
        return reservation

    @classmethod
    def closed_before_request(cls, payment_id: str, outcome: str, *, now: datetime) -> Reservation:
        """The payment ended before its request reached us: remember it, so a late request holds nothing."""
        return cls(
            payment_id=payment_id,
            reservation_id=str(uuid.uuid4()),
            status=ReservationStatus.CLOSED,
            lines=(),
            created_at=now,
            reason=f"payment {outcome} before its request arrived",
        )

    @property
    def short_skus(self) -> tuple[str, ...]:
        if self.status is not ReservationStatus.REJECTED or not self.reason:
            return ()
        return tuple(self.reason.removeprefix("insufficient stock: ").split(", "))

    def repeat_outcome(self) -> None:
        """A request for a payment already decided (a re-sent request): say the same thing again."""
        if self.status is ReservationStatus.REJECTED:
            self.events.append(self._rejected_event(self.short_skus))
        elif self.status in (ReservationStatus.RESERVED, ReservationStatus.COMMITTED):
            self.events.append(self._reserved_event())

    def commit(self) -> bool:
        """Payment captured: True when reserved units must now move to sold (False if already done)."""
        if self.status is not ReservationStatus.RESERVED:
            return False
        self.status = ReservationStatus.COMMITTED
        self.expires_at = None
        self.events.append(StockCommitted(payment_id=self.payment_id, reservation_id=self.reservation_id))
        return True

    def commit_late(self) -> None:
        """Captured after the reservation had expired, and the units could be taken again from available."""
        self.status = ReservationStatus.COMMITTED
        self.reason = "committed after expiry"
        self.events.append(StockCommitted(payment_id=self.payment_id, reservation_id=self.reservation_id))

    def release(self, reason: str) -> bool:
        """Any other outcome, or expiry: True when held units must go back to available."""
        if self.status is not ReservationStatus.RESERVED:
            return False
        self.status = ReservationStatus.RELEASED
        self.expires_at = None
        self.reason = reason
        self.events.append(
            StockReleased(payment_id=self.payment_id, reservation_id=self.reservation_id, reason=reason)
        )
        return True

    def hold_until(self, until: datetime) -> bool:
        """Keep held units longer (the payment waits for an operator's review); never shortens a hold."""
        if self.status is not ReservationStatus.RESERVED or (self.expires_at and self.expires_at >= until):
            return False
        self.expires_at = until
        return True

    def is_expired(self, now: datetime) -> bool:
        return (
            self.status is ReservationStatus.RESERVED
            and self.expires_at is not None
            and self.expires_at <= now
        )

    def note_low_stock(self, events: Iterable[StockLow]) -> None:
        self.events.extend(events)

    def _reserved_event(self) -> StockReserved:
        return StockReserved(
            payment_id=self.payment_id,
            reservation_id=self.reservation_id,
            items=tuple(ReservedLine(sku=line.sku, quantity=line.quantity) for line in self.lines),
        )

    def _rejected_event(self, short: tuple[str, ...]) -> StockRejected:
        return StockRejected(
            payment_id=self.payment_id,
            reason="insufficient stock",
            insufficient_skus=short,
        )


def low_stock(lines: tuple[Line, ...], available_after: Mapping[str, int], threshold: int) -> list[StockLow]:
    """A StockLow for each SKU this reservation took across the threshold (not for every later sale)."""
    if threshold <= 0:
        return []
    events = []
    for line in lines:
        after = available_after.get(line.sku)
        if after is not None and after <= threshold < after + line.quantity:
            events.append(StockLow(sku=line.sku, available=after, threshold=threshold))
    return events


@dataclass(frozen=True)
class StockLevel:
    """A SKU's counts: units free to reserve, units held by open reservations, units sold."""

    sku: str
    available: int
    reserved: int
    sold: int


@dataclass(frozen=True)
class Taken:
    """Result of taking a basket from available stock: all lines or none."""

    available_after: Mapping[str, int]
    short_skus: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.short_skus
