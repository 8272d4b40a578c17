"""Payments to rows and back, with optimistic versioning: a write that lost a race raises a conflict."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payment.adapters.orm import payments
from payment.domain.model import (
    Checkout,
    Payment,
    PaymentStatus,
    ReviewDecision,
    Step,
    StockStatus,
)
from payment.service_layer.ports import ConcurrencyConflict
from shared.contracts.fraud import FraudDecision
from shared.contracts.values import Customer, LineItem
from shared.persistence.compiled import DriverStatement

# Statements built once: only the parameters change, so SQLAlchemy's compiled cache serves every call. The load
# and the update of a payment, which every step runs, go on the driver (DriverStatement: a fifth of the CPU).
_BY_ID = select(payments).where(payments.c.id == bindparam("payment_id"))
_READ = DriverStatement(_BY_ID)
# FOR UPDATE on PostgreSQL serialises the handlers of one payment; SQLite has one writer anyway, and the
# version check of _UPDATE catches what slips through.
_BY_ID_FOR_UPDATE = DriverStatement(_BY_ID.with_for_update())
_BY_KEY = select(payments).where(payments.c.idempotency_key == bindparam("key"))
_INSERT = DriverStatement(payments.insert())
# One UPDATE per set of changed columns, built on first use: a step changes a few columns (status, an answer, the
# history, the version), and binding all 27 (JSON-encoding the basket again) cost more than the statement.
_UPDATES: dict[frozenset[str], DriverStatement] = {}


def _update_of(columns: frozenset[str]) -> DriverStatement:
    statement = _UPDATES.get(columns)
    if statement is None:
        statement = _UPDATES[columns] = DriverStatement(
            update(payments)
            .where(payments.c.id == bindparam("b_id"), payments.c.version == bindparam("b_version"))
            .values({name: bindparam(name) for name in sorted(columns)})
        )
    return statement


_DUE = (
    select(payments.c.id)
    .where(payments.c.charge_due_at.is_not(None), payments.c.charge_due_at <= bindparam("now"))
    .order_by(payments.c.charge_due_at)
    .limit(bindparam("limit"))
)
_VOID_DUE = (
    select(payments.c.id)
    .where(payments.c.void_due_at.is_not(None), payments.c.void_due_at <= bindparam("now"))
    .order_by(payments.c.void_due_at)
    .limit(bindparam("limit"))
)


class SqlPaymentRepository:
    """Loads payments on a unit of work's connection; :meth:`flush` writes what changed."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        # payment id -> (the payment, its row as loaded, or None when new)
        self.seen: dict[str, tuple[Payment, dict[str, Any] | None]] = {}

    async def add(self, payment: Payment) -> None:
        self.seen[payment.id] = (payment, None)

    async def get(self, payment_id: str) -> Payment | None:
        if payment_id in self.seen:
            return self.seen[payment_id][0]
        rows = await _BY_ID_FOR_UPDATE.rows(self._connection, {"payment_id": payment_id})
        return self._track(rows[0]) if rows else None

    def resume(self, payment: Payment) -> Payment:
        self.seen[payment.id] = (payment, to_row(payment))
        return payment

    async def read(self, payment_id: str) -> Payment | None:
        rows = await _READ.rows(self._connection, {"payment_id": payment_id})
        return to_payment(rows[0]) if rows else None

    async def by_idempotency_key(self, key: str) -> Payment | None:
        row = (await self._connection.execute(_BY_KEY, {"key": key})).mappings().first()
        return None if row is None else self._track(dict(row))

    async def due_for_charge(self, now: datetime, limit: int) -> Sequence[str]:
        return list((await self._connection.execute(_DUE, {"now": now, "limit": limit})).scalars())

    async def due_for_void(self, now: datetime, limit: int) -> Sequence[str]:
        return list((await self._connection.execute(_VOID_DUE, {"now": now, "limit": limit})).scalars())

    def _track(self, row: dict[str, Any]) -> Payment:
        payment = to_payment(row)
        # The basket never changes after the checkout: its stored form is reused, not dumped again per step.
        self.seen[payment.id] = (payment, to_row(payment, items=row["items"]))
        return payment

    async def flush(self) -> list[Payment]:
        """Insert new payments and update changed ones; the payments written (their events to publish)."""
        written: list[Payment] = []
        for payment, loaded in self.seen.values():
            row = to_row(payment, items=None if loaded is None else loaded["items"])
            if loaded is None:
                row["version"] = payment.version = 1
                await _INSERT.rowcount(self._connection, row)
            elif row != loaded:
                changed = {name: value for name, value in row.items() if loaded.get(name) != value}
                changed["version"] = payment.version + 1
                params = {**changed, "b_id": payment.id, "b_version": payment.version}
                if await _update_of(frozenset(changed)).rowcount(self._connection, params) != 1:
                    raise ConcurrencyConflict(f"payment {payment.id} changed since it was read")
                payment.version += 1
            else:
                continue
            written.append(payment)
        return written


def to_row(payment: Payment, *, items: list[Any] | None = None) -> dict[str, Any]:
    """The payment's row; ``items``: its basket as already stored (a checkout is immutable)."""
    checkout = payment.checkout
    return {
        "id": payment.id,
        "idempotency_key": payment.idempotency_key,
        "order_id": checkout.order_id,
        "customer_id": checkout.customer.id,
        "customer_email": checkout.customer.email,
        "customer_country": checkout.customer.country,
        "items": [item.model_dump() for item in checkout.items] if items is None else items,
        "currency": checkout.currency,
        "token": checkout.token,
        "amount": payment.amount,
        "status": payment.status.value,
        "reason": payment.reason,
        "fraud_decision": None if payment.fraud is None else payment.fraud.value,
        "fraud_score": payment.fraud_score,
        "fraud_reasons": list(payment.fraud_reasons),
        "stock_status": None if payment.stock is None else payment.stock.value,
        "reservation_id": payment.reservation_id,
        "review_decision": None if payment.review is None else payment.review.value,
        "charge_id": payment.charge_id,
        "charge_attempts": payment.charge_attempts,
        "charge_due_at": payment.charge_due_at,
        "void_due_at": payment.void_due_at,
        "void_attempts": payment.void_attempts,
        "deadline": payment.deadline,
        "created_at": payment.created_at,
        "history": [{"step": s.name, "at": s.at.isoformat(), "detail": s.detail} for s in payment.history],
        "version": payment.version,
    }


def to_payment(row: dict[str, Any]) -> Payment:
    checkout = Checkout(
        order_id=row["order_id"],
        customer=Customer(
            id=row["customer_id"], email=row["customer_email"], country=row["customer_country"]
        ),
        items=tuple(LineItem.model_validate(item) for item in row["items"]),
        currency=row["currency"],
        token=row["token"],
    )
    return Payment(
        id=row["id"],
        checkout=checkout,
        idempotency_key=row["idempotency_key"],
        created_at=row["created_at"],
        deadline=row["deadline"],
        status=PaymentStatus(row["status"]),
        reason=row["reason"],
        fraud=None if row["fraud_decision"] is None else FraudDecision(row["fraud_decision"]),
        fraud_score=row["fraud_score"],
        fraud_reasons=tuple(row["fraud_reasons"]),
        stock=None if row["stock_status"] is None else StockStatus(row["stock_status"]),
        reservation_id=row["reservation_id"],
        review=None if row["review_decision"] is None else ReviewDecision(row["review_decision"]),
        charge_id=row["charge_id"],
        charge_attempts=row["charge_attempts"],
        charge_due_at=row["charge_due_at"],
        void_due_at=row["void_due_at"],
        void_attempts=row["void_attempts"],
        history=[Step(s["step"], datetime.fromisoformat(s["at"]), s["detail"]) for s in row["history"]],
        version=row["version"],
    )
