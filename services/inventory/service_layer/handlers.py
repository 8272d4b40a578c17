"""Inventory's handlers: one short function per message or command, one unit of work each."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from inventory.domain.model import (
    Reservation,
    ReservationStatus,
    StockLevel,
    basket_lines,
    low_stock,
)
from inventory.service_layer.ports import InventoryUnitOfWork
from shared.contracts.payment import (
    PaymentCaptured,
    PaymentOutcome,
    PaymentRequested,
    PaymentReviewRequired,
)
from shared.messaging.errors import TransientError

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
EXPIRED = "expired"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ReservationPolicy:
    ttl: timedelta = timedelta(minutes=15)
    review_ttl: timedelta = timedelta(hours=24)
    stock_low_threshold: int = 5
    clock: Clock = utcnow


class UnknownSku(LookupError):
    pass


class RequestNotSeenYet(TransientError):
    """The review notice overtook the payment's request; retried (the request is handled by then)."""


async def reserve_basket(
    event: PaymentRequested, uow: InventoryUnitOfWork, policy: ReservationPolicy
) -> None:
    """Hold every line of the basket or none; a payment already known keeps what it has."""
    lines = basket_lines(event.items)
    now = policy.clock()
    async with uow:
        reservation = await uow.reservations.get(event.payment_id)
        if reservation is not None:
            reservation.repeat_outcome()
        else:
            taken = await uow.stock.take(lines)
            if taken.complete:
                reservation = Reservation.hold(event.payment_id, lines, now=now, ttl=policy.ttl)
                reservation.note_low_stock(
                    low_stock(lines, taken.available_after, policy.stock_low_threshold)
                )
            else:
                reservation = Reservation.refuse(event.payment_id, lines, taken.short_skus, now=now)
            uow.reservations.add(reservation)
        await uow.commit()


async def commit_reservation(
    event: PaymentCaptured, uow: InventoryUnitOfWork, policy: ReservationPolicy
) -> None:
    """Payment captured: the held units are sold."""
    async with uow:
        reservation = await uow.reservations.get(event.payment_id)
        if reservation is None:
            # payment captures only after inventory.reserved, so this is a lost or foreign reservation
            log.error("payment %s captured but inventory holds no reservation for it", event.payment_id)
            uow.reservations.add(
                Reservation.closed_before_request(event.payment_id, "captured", now=policy.clock())
            )
        elif reservation.commit():
            await uow.stock.settle(reservation.lines)
        elif reservation.status is ReservationStatus.RELEASED and reservation.reason == EXPIRED:
            # the sweeper released it just before the capture arrived: take the units again if still there
            if await uow.stock.sell_from_available(reservation.lines):
                reservation.commit_late()
            else:
                log.error(
                    "payment %s captured after its reservation expired and the stock is gone: %s",
                    event.payment_id,
                    ", ".join(line.sku for line in reservation.lines),
                )
        await uow.commit()


async def release_reservation(
    event: PaymentOutcome, uow: InventoryUnitOfWork, policy: ReservationPolicy
) -> None:
    """Declined, rejected, cancelled or failed: compensation, the held units are free again."""
    outcome = event.routing_key()
    async with uow:
        reservation = await uow.reservations.get(event.payment_id)
        if reservation is None:
            uow.reservations.add(
                Reservation.closed_before_request(
                    event.payment_id, outcome.split(".")[-1], now=policy.clock()
                )
            )
        elif reservation.release(outcome):
            await uow.stock.give_back(reservation.lines)
        await uow.commit()


async def hold_for_review(
    event: PaymentReviewRequired, uow: InventoryUnitOfWork, policy: ReservationPolicy
) -> None:
    """The payment waits for an operator: keep its units held for the review window, not the usual TTL."""
    async with uow:
        reservation = await uow.reservations.get(event.payment_id)
        if reservation is None:
            raise RequestNotSeenYet(f"no reservation for {event.payment_id} yet")
        reservation.hold_until(policy.clock() + policy.review_ttl)
        await uow.commit()


async def release_expired(
    uow_factory: Callable[[], InventoryUnitOfWork], policy: ReservationPolicy, *, batch_size: int
) -> int:
    """Release held reservations whose time is up, each in its own transaction; returns how many."""
    now = policy.clock()
    async with uow_factory() as uow:
        due = await uow.reservations.expired(now, batch_size)
    released = 0
    for payment_id in due:
        async with uow_factory() as uow:
            reservation = await uow.reservations.get(payment_id)
            # re-checked under the lock: an outcome may have arrived since the scan
            if reservation is not None and reservation.is_expired(now) and reservation.release(EXPIRED):
                await uow.stock.give_back(reservation.lines)
                released += 1
            await uow.commit()
    return released


async def set_stock(sku: str, available: int, uow: InventoryUnitOfWork) -> StockLevel:
    """Set the units free to reserve (held and sold units are not touched)."""
    async with uow:
        level = await uow.stock.set_available(sku, available)
        await uow.commit()
    return level


async def stock_level(sku: str, uow: InventoryUnitOfWork) -> StockLevel:
    async with uow:
        level = await uow.stock.get(sku)
    if level is None:
        raise UnknownSku(sku)
    return level
