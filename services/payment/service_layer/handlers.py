"""The payment use cases. Each runs in its own unit of work; the charge runs between two of them.

Charging never happens inside an open transaction: the payment is *claimed* for a lease (a version-checked
write), the gateway is called with the payment id as idempotency key, and the answer is recorded in a second
unit of work. A crash or an unreachable gateway leaves a due charge behind that :func:`sweep` picks up, so a
charge is retried until it has an answer or its deadline passes, and the gateway charges the card once.

A payment that failed after attempts whose outcome it never learnt owes a void: the sweeper claims it the same
way and asks the gateway to give back whatever the reference charged (and refuse an attempt still in flight),
retrying until the gateway answers, so "failed" never leaves money taken.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from payment.domain.model import ChargeResult, Checkout, NotInReview, Payment, ReviewDecision, VoidResult
from payment.service_layer.ports import (
    CardGateway,
    ConcurrencyConflict,
    GatewayUnavailable,
    IdempotencyKeyTaken,
    UnitOfWorkFactory,
)
from shared.contracts.fraud import FraudAssessed
from shared.contracts.inventory import StockCommitted, StockRejected, StockReleased, StockReserved

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class UnknownPayment(LookupError):
    """No payment has this id."""


class IdempotencyKeyReused(Exception):
    """The idempotency key was already used for a different request body."""


@dataclass(frozen=True)
class ChargePolicy:
    """How long a claim holds, how retries back off, how long a payment may wait for the gateway."""

    time_to_deadline: timedelta = timedelta(minutes=10)
    # Longer than one gateway call with all its in-call retries, so a live attempt is never stolen.
    lease: timedelta = timedelta(seconds=30)
    retry_base: timedelta = timedelta(seconds=1)
    retry_max: timedelta = timedelta(seconds=30)
    sweep_batch: int = 100

    def retry_in(self, attempts: int) -> timedelta:
        backoff: timedelta = min(self.retry_base * (2 ** max(attempts - 1, 0)), self.retry_max)
        return backoff


@dataclass
class Services:
    """Everything the use cases need, built once in the entrypoint (fakes in tests)."""

    uow: UnitOfWorkFactory
    gateway: CardGateway
    clock: Clock
    policy: ChargePolicy = field(default_factory=ChargePolicy)


# -- commands from HTTP ---------------------------------------------------------------------------------------


async def request_payment(
    checkout: Checkout, idempotency_key: str, services: Services, *, new_id: Callable[[], str]
) -> Payment:
    """Store a new pending payment, or answer the one stored under ``idempotency_key`` for the same body.

    The insert comes first (the key is unique in the table): a new key, the common case, costs no lookup, and
    two concurrent requests with one key cannot both store a payment.
    """
    try:
        async with services.uow() as uow:
            payment = Payment.request(
                new_id(),
                checkout,
                idempotency_key=idempotency_key,
                now=services.clock(),
                time_to_deadline=services.policy.time_to_deadline,
            )
            await uow.payments.add(payment)
            await uow.commit()
            return payment
    except IdempotencyKeyTaken:
        pass  # a replay, or a concurrent request with the same key won the insert: answer what is stored
    async with services.uow() as uow:
        existing = await uow.payments.by_idempotency_key(idempotency_key)
    if existing is None:  # pragma: no cover - the key was taken a moment ago and payments are never deleted
        raise IdempotencyKeyTaken(idempotency_key)
    if existing.checkout.fingerprint() != checkout.fingerprint():
        raise IdempotencyKeyReused(idempotency_key)
    return existing


async def get_payment(payment_id: str, services: Services) -> Payment:
    async with services.uow() as uow:
        payment = await uow.payments.read(payment_id)
    if payment is None:
        raise UnknownPayment(payment_id)
    return payment


async def decide_review(payment_id: str, decision: ReviewDecision, services: Services) -> Payment:
    """Apply an operator's decision; charge at once when that makes the payment chargeable."""
    async with services.uow() as uow:
        payment = await uow.payments.get(payment_id)
        if payment is None:
            raise UnknownPayment(payment_id)
        payment.decide_review(decision, now=services.clock())
        claimed = _claim(payment, services)
        await uow.commit()
    if claimed:
        return await charge_claimed(payment, services)
    return payment


# -- events from fraud and inventory --------------------------------------------------------------------------
# Each takes the unit of work the consumer built for the message (so the inbox mark commits with the state).


async def on_fraud_assessed(
    event: FraudAssessed, uow_for_message: UnitOfWorkFactory, services: Services
) -> None:
    async with uow_for_message() as uow:
        payment = _required(await uow.payments.get(event.payment_id), event.payment_id)
        payment.record_fraud(event.decision, event.score, event.reasons, now=services.clock())
        claimed = _claim(payment, services)
        await uow.commit()
    if claimed:
        await charge_claimed(payment, services)


async def on_stock_reserved(
    event: StockReserved, uow_for_message: UnitOfWorkFactory, services: Services
) -> None:
    async with uow_for_message() as uow:
        payment = _required(await uow.payments.get(event.payment_id), event.payment_id)
        payment.record_stock_reserved(event.reservation_id, now=services.clock())
        claimed = _claim(payment, services)
        await uow.commit()
    if claimed:
        await charge_claimed(payment, services)


async def on_stock_rejected(
    event: StockRejected, uow_for_message: UnitOfWorkFactory, services: Services
) -> None:
    async with uow_for_message() as uow:
        payment = _required(await uow.payments.get(event.payment_id), event.payment_id)
        payment.record_stock_rejected(event.reason, event.insufficient_skus, now=services.clock())
        await uow.commit()


async def on_stock_settled(
    event: StockCommitted | StockReleased, uow_for_message: UnitOfWorkFactory, services: Services
) -> None:
    async with uow_for_message() as uow:
        payment = _required(await uow.payments.get(event.payment_id), event.payment_id)
        committed = isinstance(event, StockCommitted)
        detail = event.reservation_id if committed else f"{event.reservation_id}: {event.reason}"
        payment.record_stock_settled(committed, detail, now=services.clock())
        await uow.commit()


# -- charging -------------------------------------------------------------------------------------------------


async def charge_claimed(claimed: Payment, services: Services) -> Payment:
    """Call the gateway for a payment this worker has just claimed (and committed), then record the answer."""
    payment_id = claimed.id
    try:
        result = await services.gateway.charge(
            amount=claimed.amount,
            currency=claimed.currency,
            token=claimed.checkout.token,
            idempotency_key=payment_id,
            reference=payment_id,
        )
        error = None
    except GatewayUnavailable as exc:
        result, error = None, str(exc) or type(exc).__name__
    try:
        # Recorded on the payment as the claim committed it, without reading it again (one statement less per
        # checkout); the version-checked write notices a change committed meanwhile, and then it is read again.
        return await _record_answer(payment_id, result, error, services, claimed=claimed)
    except ConcurrencyConflict:
        return await _record_answer(payment_id, result, error, services, claimed=None)


async def _record_answer(
    payment_id: str,
    result: ChargeResult | None,
    error: str | None,
    services: Services,
    *,
    claimed: Payment | None,
) -> Payment:
    async with services.uow() as uow:
        if claimed is not None:
            payment = uow.payments.resume(claimed)
        else:
            payment = _required(await uow.payments.get(payment_id), payment_id)
        now = services.clock()
        if result is not None:
            payment.record_charge(result, now=now)
        else:
            assert error is not None
            retry_in = services.policy.retry_in(payment.charge_attempts)
            payment.record_gateway_unavailable(error, now=now, retry_in=retry_in)
            log.warning("charge of %s not done (%s); next try in %s", payment_id, error, retry_in)
        await uow.commit()
    return payment


async def sweep(services: Services, *, concurrency: int = 8) -> int:
    """Retry due charges, fail those past their deadline and void what failed payments may have charged;
    the number of payments touched."""
    now = services.clock()
    async with services.uow() as uow:
        due_charges = await uow.payments.due_for_charge(now, services.policy.sweep_batch)
        due_voids = await uow.payments.due_for_void(now, services.policy.sweep_batch)
    if not due_charges and not due_voids:
        return 0
    limit = asyncio.Semaphore(concurrency)

    async def one(payment_id: str, work: Callable[[str, Services], Awaitable[bool]]) -> bool:
        async with limit:
            try:
                return await work(payment_id, services)
            except Exception:
                log.exception("sweep of payment %s failed; the next sweep tries again", payment_id)
                return False

    touched = await asyncio.gather(
        *(one(payment_id, _retry_or_expire) for payment_id in due_charges),
        *(one(payment_id, _void) for payment_id in due_voids),
    )
    return sum(touched)


async def _retry_or_expire(payment_id: str, services: Services) -> bool:
    async with services.uow() as uow:
        payment = await uow.payments.get(payment_id)
        if payment is None:
            return False
        now = services.clock()
        if payment.expire(now=now):
            await uow.commit()
            return True
        if not payment.claim_charge(now=now, lease=services.policy.lease):
            return False
        await uow.commit()
    await charge_claimed(payment, services)
    return True


async def _void(payment_id: str, services: Services) -> bool:
    async with services.uow() as uow:
        payment = await uow.payments.get(payment_id)
        if payment is None or not payment.claim_void(now=services.clock(), lease=services.policy.lease):
            return False
        await uow.commit()
    result: VoidResult | None = None
    try:
        # Its own idempotency key: the charge's key belongs to the charge request.
        result = await services.gateway.void(reference=payment_id, idempotency_key=f"void:{payment_id}")
        error = None
    except GatewayUnavailable as exc:
        error = str(exc) or type(exc).__name__
    async with services.uow() as uow:
        payment = _required(await uow.payments.get(payment_id), payment_id)
        now = services.clock()
        if result is not None:
            payment.record_void(result, now=now)
            log.warning(
                "failed payment %s voided at the gateway: %s", payment_id, result.charge_ids or "none"
            )
        else:
            assert error is not None
            retry_in = services.policy.retry_in(payment.void_attempts)
            payment.record_void_unavailable(error, now=now, retry_in=retry_in)
            log.error("void of failed payment %s not done (%s); next try in %s", payment_id, error, retry_in)
        await uow.commit()
    return True


def _claim(payment: Payment, services: Services) -> bool:
    return payment.claim_charge(now=services.clock(), lease=services.policy.lease)


def _required(payment: Payment | None, payment_id: str) -> Payment:
    if payment is None:
        # fraud/inventory only answer payment.requested, which leaves after the payment is stored.
        raise UnknownPayment(f"no payment {payment_id}")
    return payment


__all__ = [
    "ChargePolicy",
    "IdempotencyKeyReused",
    "NotInReview",
    "Services",
    "UnknownPayment",
    "charge_claimed",
    "decide_review",
    "get_payment",
    "on_fraud_assessed",
    "on_stock_rejected",
    "on_stock_reserved",
    "request_payment",
    "sweep",
]
