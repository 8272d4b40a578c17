import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway_sandbox.app import create_app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(timeout_delay=0.2))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        yield c


def body(token: str = "tok_visa", amount: int = 500) -> dict[str, object]:
    return {"amount": amount, "currency": "EUR", "token": token, "reference": "pay-1"}


async def test_charge_is_approved_when_the_token_is_visa(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/charges", json=body(), headers={"Idempotency-Key": "k1"})
    assert response.status_code == 201
    assert response.json()["status"] == "succeeded"
    assert response.json()["id"].startswith("ch_")


@pytest.mark.parametrize(
    ("token", "code"),
    [("tok_chargeDeclined", "card_declined"), ("tok_insufficientFunds", "insufficient_funds")],
)
async def test_charge_is_declined_with_a_code_when_the_token_says_so(
    client: httpx.AsyncClient, token: str, code: str
) -> None:
    response = await client.post("/v1/charges", json=body(token), headers={"Idempotency-Key": "k1"})
    assert response.status_code == 402
    assert response.json()["decline_code"] == code


async def test_error_token_answers_500_every_time_when_retried(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        response = await client.post("/v1/charges", json=body("tok_error"), headers={"Idempotency-Key": "k"})
        assert response.status_code == 500


async def test_timeout_token_answers_late_then_replays_at_once_when_retried(
    client: httpx.AsyncClient,
) -> None:
    started = time.monotonic()
    response = await client.post("/v1/charges", json=body("tok_timeout"), headers={"Idempotency-Key": "k"})
    assert time.monotonic() - started >= 0.2
    assert response.status_code == 201
    started = time.monotonic()
    await client.post("/v1/charges", json=body("tok_timeout"), headers={"Idempotency-Key": "k"})
    assert time.monotonic() - started < 0.2, "a replay answers at once"


async def test_repeated_key_charges_once_and_replays_the_first_answer_when_retried(
    client: httpx.AsyncClient,
) -> None:
    answers = await asyncio.gather(
        *(client.post("/v1/charges", json=body(), headers={"Idempotency-Key": "same"}) for _ in range(5))
    )
    assert {a.json()["id"] for a in answers} == {answers[0].json()["id"]}
    assert len((await client.get("/v1/charges", params={"reference": "pay-1"})).json()) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 4


async def test_repeated_key_answers_409_when_the_parameters_differ(client: httpx.AsyncClient) -> None:
    await client.post("/v1/charges", json=body(), headers={"Idempotency-Key": "k"})
    response = await client.post("/v1/charges", json=body(amount=1), headers={"Idempotency-Key": "k"})
    assert response.status_code == 409


async def test_charges_fail_with_503_while_chaos_fail_is_on(client: httpx.AsyncClient) -> None:
    await client.post("/admin/chaos", json={"mode": "fail", "seconds": 60})
    assert (
        await client.post("/v1/charges", json=body(), headers={"Idempotency-Key": "k"})
    ).status_code == 503
    await client.delete("/admin/chaos")
    assert (
        await client.post("/v1/charges", json=body(), headers={"Idempotency-Key": "k"})
    ).status_code == 201
    assert (await client.get("/admin/stats")).json()["charges"] == 1


async def test_charges_are_slow_while_chaos_slow_is_on(client: httpx.AsyncClient) -> None:
    await client.post("/admin/chaos", json={"mode": "slow", "seconds": 60, "delay": 0.2})
    started = time.monotonic()
    response = await client.post("/v1/charges", json=body(), headers={"Idempotency-Key": "k"})
    assert time.monotonic() - started >= 0.2
    assert response.status_code == 201


async def test_charge_is_refused_when_the_token_is_unknown(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/charges", json=body("tok_nope"), headers={"Idempotency-Key": "k"})
    assert response.status_code == 400


async def test_charge_answers_422_when_the_idempotency_key_is_missing(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/charges", json=body())).status_code == 422


async def test_void_gives_the_money_back_when_the_reference_was_charged(client: httpx.AsyncClient) -> None:
    await client.post("/v1/charges", json=body(), headers={"Idempotency-Key": "k1"})
    response = await client.post("/v1/voids", json={"reference": "pay-1"}, headers={"Idempotency-Key": "v1"})
    assert response.status_code == 200
    assert response.json()["status"] == "voided"
    [charge] = (await client.get("/v1/charges", params={"reference": "pay-1"})).json()
    assert charge["status"] == "voided"
    again = await client.post("/v1/voids", json={"reference": "pay-1"}, headers={"Idempotency-Key": "v1"})
    assert again.json()["charge_ids"] == response.json()["charge_ids"]


async def test_void_finds_nothing_when_the_reference_was_never_charged(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/voids", json={"reference": "pay-9"}, headers={"Idempotency-Key": "v9"})
    assert response.json() == {"status": "nothing_to_void", "reference": "pay-9", "charge_ids": []}


async def test_charge_in_flight_is_refused_when_its_reference_is_voided_meanwhile(
    client: httpx.AsyncClient,
) -> None:
    # tok_timeout answers after 0.2 s; the void lands while it is in flight.
    in_flight = asyncio.create_task(
        client.post("/v1/charges", json=body("tok_timeout"), headers={"Idempotency-Key": "k1"})
    )
    voided = await client.post("/v1/voids", json={"reference": "pay-1"}, headers={"Idempotency-Key": "v1"})
    assert voided.json()["status"] == "nothing_to_void"
    response = await in_flight
    assert response.status_code == 409
    assert response.json()["error"] == "reference_voided"
    assert (await client.get("/v1/charges", params={"reference": "pay-1"})).json() == []
