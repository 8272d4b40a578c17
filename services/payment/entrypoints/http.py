"""The payment HTTP API (FastAPI; OpenAPI at /docs and /openapi.json)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from payment.adapters import metrics
from payment.domain.model import Checkout, NotInReview, Payment, ReviewDecision
from payment.service_layer import handlers
from payment.service_layer.handlers import IdempotencyKeyReused, Services, UnknownPayment
from shared.contracts.values import Currency, Customer, LineItem

Text = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class PaymentMethod(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Text


class CheckoutRequest(BaseModel):
    """A checkout; amounts are integers in minor units (cents)."""

    model_config = ConfigDict(extra="forbid")

    order_id: Text
    customer: Customer
    items: Annotated[list[LineItem], Field(min_length=1, max_length=100)]
    currency: Currency
    payment_method: PaymentMethod

    def to_checkout(self) -> Checkout:
        return Checkout(
            order_id=self.order_id,
            customer=self.customer,
            items=tuple(self.items),
            currency=self.currency,
            token=self.payment_method.token,
        )


class PaymentAccepted(BaseModel):
    payment_id: str
    status: str


class StepView(BaseModel):
    step: str
    at: datetime
    detail: str | None


class PaymentView(BaseModel):
    payment_id: str
    order_id: str
    status: str
    amount: int
    currency: str
    reason: str | None
    customer_id: str
    charge_id: str | None
    created_at: datetime
    history: list[StepView]

    @classmethod
    def of(cls, payment: Payment) -> PaymentView:
        return cls(
            payment_id=payment.id,
            order_id=payment.checkout.order_id,
            status=payment.status.value,
            amount=payment.amount,
            currency=payment.currency,
            reason=payment.reason,
            customer_id=payment.checkout.customer.id,
            charge_id=payment.charge_id,
            created_at=payment.created_at,
            history=[StepView(step=s.name, at=s.at, detail=s.detail) for s in payment.history],
        )


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: ReviewDecision


def payments_router(services: Services) -> APIRouter:
    """``/payments`` routes over the given use cases."""
    router = APIRouter(prefix="/payments", tags=["payments"])

    @router.post(
        "",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=PaymentAccepted,
        responses={409: {"description": "Idempotency-Key already used with a different body"}},
    )
    async def create_payment(
        body: CheckoutRequest,
        request: Request,
        response: Response,
        idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)],
    ) -> PaymentAccepted:
        try:
            payment = await handlers.request_payment(
                body.to_checkout(), idempotency_key, services, new_id=lambda: str(uuid.uuid4())
            )
        except IdempotencyKeyReused:
            metrics.CHECKOUTS.labels(result="conflict").inc()
            raise HTTPException(
                status.HTTP_409_CONFLICT, "Idempotency-Key was already used with a different request body"
            ) from None
        metrics.CHECKOUTS.labels(result="accepted").inc()
        response.headers["Location"] = str(request.url_for("read_payment", payment_id=payment.id).path)
        return PaymentAccepted(payment_id=payment.id, status=payment.status.value)

    @router.get("/{payment_id}", response_model=PaymentView, responses={404: {"description": "Unknown id"}})
    async def read_payment(payment_id: str) -> PaymentView:
        try:
            return PaymentView.of(await handlers.get_payment(payment_id, services))
        except UnknownPayment:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no payment {payment_id}") from None

    @router.post(
        "/{payment_id}/review",
        response_model=PaymentView,
        responses={404: {"description": "Unknown id"}, 409: {"description": "Payment not in review"}},
    )
    async def review_payment(payment_id: str, body: ReviewRequest) -> PaymentView:
        try:
            return PaymentView.of(await handlers.decide_review(payment_id, body.decision, services))
        except UnknownPayment:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no payment {payment_id}") from None
        except NotInReview as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None

    return router


def create_app(services: Services) -> FastAPI:
    """The payment API; the entrypoint adds the health and metrics routes."""
    app = FastAPI(
        title="Warren payment",
        version="1",
        description="Accepts checkouts and reports how each payment ended.",
    )
    app.include_router(payments_router(services))
    return app
