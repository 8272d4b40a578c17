from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from payment.entrypoints.http import create_app
from payment.service_layer import handlers
from payment.service_layer.handlers import Services
from shared.contracts.fraud import FraudAssessed, FraudDecision

from .fakes import FakeClock, FakeGateway, FakeStore, FakeUnitOfWork


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def services(store: FakeStore) -> Services:
    return Services(uow=lambda: FakeUnitOfWork(store), gateway=FakeGateway(), clock=FakeClock())


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://payment") as c:
        yield c


def checkout_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": "order-1",
        "customer": {"id": "cust-1", "email": "ada@example.com", "country": "GB"},
        "items": [{"sku": "sku-1", "quantity": 2, "unit_amount": 1250}],
        "currency": "EUR",
        "payment_method": {"token": "tok_visa"},
    }
    body.update(changes)
    return body


async def test_post_answers_202_with_location_when_the_checkout_is_valid(client: httpx.AsyncClient) -> None:
    response = await client.post("/payments", json=checkout_body(), headers={"Idempotency-Key": "k1"})
    assert response.status_code == 202
    payment_id = response.json()["payment_id"]
    assert response.json()["status"] == "pending"
    assert response.headers["Location"] == f"/payments/{payment_id}"
    view = (await client.get(response.headers["Location"])).json()
    assert view["amount"] == 2500
    assert view["currency"] == "EUR"
    assert [s["step"] for s in view["history"]] == ["requested"]


async def test_post_answers_the_same_payment_when_the_key_and_body_repeat(client: httpx.AsyncClient) -> None:
    first = await client.post("/payments", json=checkout_body(), headers={"Idempotency-Key": "k1"})
    second = await client.post("/payments", json=checkout_body(), headers={"Idempotency-Key": "k1"})
    assert second.status_code == 202
    assert second.json()["payment_id"] == first.json()["payment_id"]


async def test_post_answers_409_when_the_key_repeats_with_another_body(client: httpx.AsyncClient) -> None:
    await client.post("/payments", json=checkout_body(), headers={"Idempotency-Key": "k1"})
    response = await client.post(
        "/payments", json=checkout_body(currency="USD"), headers={"Idempotency-Key": "k1"}
    )
    assert response.status_code == 409


async def test_post_answers_422_naming_the_fields_when_the_body_is_invalid(client: httpx.AsyncClient) -> None:
    body = checkout_body(items=[{"sku": "sku-1", "quantity": 0, "unit_amount": -1}], currency="euro")
    del body["order_id"]
    response = await client.post("/payments", json=body, headers={"Idempotency-Key": "k1"})
    assert response.status_code == 422
    locations = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert locations == {
        ("body", "order_id"),
        ("body", "items", 0, "quantity"),
        ("body", "items", 0, "unit_amount"),
        ("body", "currency"),
    }


async def test_post_answers_422_naming_the_header_when_the_idempotency_key_is_missing(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/payments", json=checkout_body())
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


async def test_get_answers_404_when_the_payment_is_unknown(client: httpx.AsyncClient) -> None:
    assert (await client.get("/payments/nope")).status_code == 404


async def test_review_approves_and_captures_when_the_payment_is_in_review(
    client: httpx.AsyncClient, services: Services, store: FakeStore
) -> None:
    created = await client.post("/payments", json=checkout_body(), headers={"Idempotency-Key": "k1"})
    payment_id = created.json()["payment_id"]
    review = FraudAssessed(payment_id=payment_id, decision=FraudDecision.REVIEW, score=60)
    await handlers.on_fraud_assessed(review, lambda: FakeUnitOfWork(store), services)
    assert (await client.get(f"/payments/{payment_id}")).json()["status"] == "review"
    response = await client.post(f"/payments/{payment_id}/review", json={"decision": "reject"})
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    again = await client.post(f"/payments/{payment_id}/review", json={"decision": "approve"})
    assert again.status_code == 409


async def test_review_answers_422_when_the_decision_is_unknown(client: httpx.AsyncClient) -> None:
    response = await client.post("/payments/x/review", json={"decision": "maybe"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "decision"]


async def test_review_answers_404_when_the_payment_is_unknown(client: httpx.AsyncClient) -> None:
    assert (await client.post("/payments/x/review", json={"decision": "approve"})).status_code == 404
