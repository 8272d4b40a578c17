"""The Payment aggregate: joins the fraud and stock outcomes in any order, charges once, records its history.

Every method takes ``now`` so the model stays pure and tests control time. State changes append a
:class:`Step` to the history and, when the outside world must learn about them, record a contract event in
``events`` (the unit of work moves those into the outbox on commit).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.contracts.base import Event
from shared.contracts.fraud import FraudDecision
from shared.contracts.payment import (
    PaymentCancelled,
    PaymentCaptured,
    PaymentDeclined,
    PaymentFailed,
    PaymentOutcome,
    PaymentRejected,
    PaymentRequested,
    PaymentReviewRequired,
)
from shared.contracts.values import Customer, LineItem


class PaymentStatus(StrEnum):
    PENDING = "pending"
    REVIEW = "review"
    CAPTURED = "captured"
    DECLINED = "declined"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self not in {PaymentStatus.PENDING, PaymentStatus.REVIEW}


class StockStatus(StrEnum):
    RESERVED = "reserved"
    REJECTED = "rejected"


class ReviewDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class PaymentError(Exception):
    """A request the payment cannot honour in its current state (a business error, not a crash)."""


class NotInReview(PaymentError):
    """A review decision for a payment that is not waiting for one."""


@dataclass(frozen=True)
class Step:
    """One line of a payment's history: what happened, when, and a short detail."""

    name: str
    at: datetime
    detail: str | None = None


@dataclass(frozen=True)
class ChargeApproved:
    charge_id: str


@dataclass(frozen=True)
class ChargeDeclined:
    reason: str


ChargeResult = ChargeApproved | ChargeDeclined


@dataclass(frozen=True)
class VoidResult:
    """The gateway's answer to a void of a payment's reference: the charges it gave back (none if none)."""

    charge_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Checkout:
    """What a customer asked for; its fingerprint tells a replayed request from a different one."""

    order_id: str
    customer: Customer
    items: tuple[LineItem, ...]
    currency: str
    token: str

    @property
    def amount(self) -> int:
        return sum(item.quantity * item.unit_amount for item in self.items)

    def fingerprint(self) -> str:
        body: dict[str, Any] = {
            "order_id": self.order_id,
            "customer": self.customer.model_dump(),
            "items": [item.model_dump() for item in self.items],
            "currency": self.currency,
            "token": self.token,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class Payment:
    id: str
    checkout: Checkout
    idempotency_key: str
    created_at: datetime
    deadline: datetime
    status: PaymentStatus = PaymentStatus.PENDING
    reason: str | None = None
    fraud: FraudDecision | None = None
    fraud_score: int | None = None
    fraud_reasons: tuple[str, ...] = ()
    stock: StockStatus | None = None
    reservation_id: str | None = None
    review: ReviewDecision | None = None
    charge_id: str | None = None
    charge_attempts: int = 0
    # Set once the payment is ready to charge: when the next charge attempt is due. A claim pushes it forward
    # by a lease, so a sweeper never retries a charge another worker is still making.
    charge_due_at: datetime | None = None
    # Set when the payment failed after attempts whose outcome it never learnt (timeouts, 5xx): one of them
    # may have charged the card after we stopped waiting, so the reference is voided at the gateway, retried
    # until the gateway answers. Without it a customer told "failed" could still have been charged.
    void_due_at: datetime | None = None
    void_attempts: int = 0
    history: list[Step] = field(default_factory=list)
    version: int = 0
    events: list[Event] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def request(
        cls,
        payment_id: str,
        checkout: Checkout,
        *,
        idempotency_key: str,
        now: datetime,
        time_to_deadline: timedelta,
    ) -> Payment:
        """A new pending payment; records ``payment.requested`` for fraud and inventory."""
        payment = cls(
            id=payment_id,
            checkout=checkout,
            idempotency_key=idempotency_key,
            created_at=now,
            deadline=now + time_to_deadline,
        )
        payment._step("requested", now, f"{checkout.amount} {checkout.currency}")
        payment.events.append(
            PaymentRequested(
                payment_id=payment_id,
                order_id=checkout.order_id,
                customer=checkout.customer,
                items=checkout.items,
                amount=checkout.amount,
                currency=checkout.currency,
            )
        )
        return payment

    @property
    def amount(self) -> int:
        return self.checkout.amount

    @property
    def currency(self) -> str:
        return self.checkout.currency

    # -- joining the outcomes -------------------------------------------------------------------------------

    def record_fraud(
        self, decision: FraudDecision, score: int, reasons: tuple[str, ...], *, now: datetime
    ) -> None:
        """Take fraud's assessment; a duplicate or one arriving after the outcome changes nothing."""
        if self.fraud is not None or self.status.final:
            return
        self.fraud, self.fraud_score, self.fraud_reasons = decision, score, reasons
        self._step(f"fraud.{decision.value}", now, _reasons_text(score, reasons))
        if decision is FraudDecision.REJECTED:
            self._finish(PaymentRejected, PaymentStatus.REJECTED, "fraud: " + ", ".join(reasons), now)
        elif decision is FraudDecision.REVIEW:
            self.status = PaymentStatus.REVIEW
            self.events.append(
                PaymentReviewRequired(
                    **self._outcome_fields(reason="review: " + ", ".join(reasons)),
                    score=score,
                    reasons=reasons,
                )
            )
        self._maybe_ready(now)

    def record_stock_reserved(self, reservation_id: str, *, now: datetime) -> None:
        """Take inventory's reservation; duplicates and late arrivals change nothing."""
        if self.stock is not None or self.status.final:
            return
        self.stock, self.reservation_id = StockStatus.RESERVED, reservation_id
        self._step("stock.reserved", now, reservation_id)
        self._maybe_ready(now)

    def record_stock_rejected(self, reason: str, skus: tuple[str, ...], *, now: datetime) -> None:
        """Out of stock: the payment is cancelled, whatever fraud said or will say."""
        if self.stock is not None or self.status.final:
            return
        self.stock = StockStatus.REJECTED
        detail = reason + (f" ({', '.join(skus)})" if skus else "")
        self._step("stock.rejected", now, detail)
        self._finish(PaymentCancelled, PaymentStatus.CANCELLED, "out of stock: " + detail, now)

    def record_stock_settled(self, committed: bool, detail: str | None, *, now: datetime) -> None:
        """Inventory closed the saga: the reservation was sold (``committed``) or given back; history only."""
        name = "stock.committed" if committed else "stock.released"
        if any(step.name == name for step in self.history):
            return  # a duplicate; the inbox absorbs redeliveries, this absorbs a re-published event
        self._step(name, now, detail)

    def decide_review(self, decision: ReviewDecision, *, now: datetime) -> None:
        """An operator's decision on a payment in review; :class:`NotInReview` otherwise."""
        if self.status is not PaymentStatus.REVIEW:
            raise NotInReview(f"payment {self.id} is {self.status.value}, not in review")
        self.review = decision
        self._step(f"review.{decision.value}", now)
        if decision is ReviewDecision.REJECT:
            self._finish(PaymentRejected, PaymentStatus.REJECTED, "rejected in review", now)
            return
        self.status = PaymentStatus.PENDING
        self._maybe_ready(now)

    # -- charging -------------------------------------------------------------------------------------------

    @property
    def cleared(self) -> bool:
        """Fraud approved it, directly or in review."""
        return self.fraud is FraudDecision.APPROVED or self.review is ReviewDecision.APPROVE

    def awaiting_charge(self) -> bool:
        return (
            self.status is PaymentStatus.PENDING
            and self.cleared
            and self.stock is StockStatus.RESERVED
            and self.charge_id is None
        )

    def charge_due(self, now: datetime) -> bool:
        return self.awaiting_charge() and self.charge_due_at is not None and self.charge_due_at <= now

    def claim_charge(self, *, now: datetime, lease: timedelta) -> bool:
        """Take the next charge attempt for ``lease``; False if it is not due (or already taken)."""
        if not self.charge_due(now):
            return False
        self.charge_due_at = now + lease
        self.charge_attempts += 1
        return True

    def record_charge(self, result: ChargeResult, *, now: datetime) -> None:
        """The gateway's answer. Only the first answer counts: the gateway dedupes on the payment id too."""
        if not self.awaiting_charge():
            return
        self.charge_due_at = None
        if isinstance(result, ChargeApproved):
            self.charge_id = result.charge_id
            self._step("charge.captured", now, result.charge_id)
            self._finish(PaymentCaptured, PaymentStatus.CAPTURED, None, now, charge_id=result.charge_id)
        else:
            self._step("charge.declined", now, result.reason)
            self._finish(PaymentDeclined, PaymentStatus.DECLINED, result.reason, now)

    def record_gateway_unavailable(self, error: str, *, now: datetime, retry_in: timedelta) -> None:
        """The gateway did not answer usefully: retry after ``retry_in``, or fail once the deadline passed."""
        if not self.awaiting_charge():
            return
        self._step("charge.unavailable", now, error)
        if now >= self.deadline:
            self._fail_past_deadline(error, now)
        else:
            self.charge_due_at = now + retry_in

    def expire(self, *, now: datetime) -> bool:
        """Fail a charge that is still not done when the deadline passed (and no attempt is in flight)."""
        if not self.charge_due(now) or now < self.deadline:
            return False
        self._fail_past_deadline("deadline passed", now)
        return True

    # -- voiding what a failed payment may have charged -----------------------------------------------------

    def void_due(self, now: datetime) -> bool:
        return self.void_due_at is not None and self.void_due_at <= now

    def claim_void(self, *, now: datetime, lease: timedelta) -> bool:
        """Take the next void attempt for ``lease``; False if none is due (or another worker has it)."""
        if not self.void_due(now):
            return False
        self.void_due_at = now + lease
        self.void_attempts += 1
        return True

    def record_void(self, result: VoidResult, *, now: datetime) -> None:
        """The gateway voided the reference: whatever a lost attempt charged is given back."""
        if self.void_due_at is None:
            return
        self.void_due_at = None
        if result.charge_ids:
            self._step("charge.voided", now, ", ".join(result.charge_ids))
        else:
            self._step("charge.void_confirmed", now, "no charge was made")

    def record_void_unavailable(self, error: str, *, now: datetime, retry_in: timedelta) -> None:
        """No answer to the void: try again after ``retry_in`` (a void has no deadline; it is money)."""
        if self.void_due_at is None:
            return
        if self.void_attempts == 1:  # one history line, not one per retry of a long outage
            self._step("void.unavailable", now, error)
        self.void_due_at = now + retry_in

    # -- internals ------------------------------------------------------------------------------------------

    def _maybe_ready(self, now: datetime) -> None:
        if self.awaiting_charge() and self.charge_due_at is None:
            self.charge_due_at = now
            # The gateway gets its whole window from the moment the charge is due, so a payment approved
            # in review an hour later still has it.
            self.deadline = max(self.deadline, now + (self.deadline - self.created_at))
            self._step("charge.ready", now)

    def _fail_past_deadline(self, error: str, now: datetime) -> None:
        self.charge_due_at = None
        if self.charge_attempts:
            self.void_due_at = now
        self._finish(
            PaymentFailed, PaymentStatus.FAILED, f"gateway unreachable until the deadline: {error}", now
        )

    def _finish(
        self,
        event: type[PaymentOutcome],
        status: PaymentStatus,
        reason: str | None,
        now: datetime,
        **extra: Any,
    ) -> None:
        self.status, self.reason = status, reason
        self._step(status.value, now, reason)
        self.events.append(event(**self._outcome_fields(reason=reason), **extra))

    def _outcome_fields(self, *, reason: str | None) -> dict[str, Any]:
        return {
            "payment_id": self.id,
            "order_id": self.checkout.order_id,
            "customer_id": self.checkout.customer.id,
            "customer_email": self.checkout.customer.email,
            "amount": self.amount,
            "currency": self.currency,
            "reason": reason,
        }

    def _step(self, name: str, now: datetime, detail: str | None = None) -> None:
        self.history.append(Step(name, now, detail))


def _reasons_text(score: int, reasons: tuple[str, ...]) -> str:
    return f"score {score}" + (f": {', '.join(reasons)}" if reasons else "")
