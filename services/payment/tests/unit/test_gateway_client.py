from collections.abc import AsyncIterator

import httpx
import pytest

from gateway_sandbox.app import create_app
from payment.adapters.gateway import (
    GatewayServerError,
    GatewayTimeout,
    GatewayUnreachable,
    HttpCardGateway,
    ResilientCardGateway,
)
from payment.domain.model import ChargeApproved, ChargeDeclined
from payment.service_layer.ports import GatewayUnavailable
from shared.resilience.breaker import BreakerPolicy
from shared.resilience.dependency import Dependency
from shared.resilience.retry import RetryPolicy


@pytest.fixture
async def gateway() -> AsyncIterator[HttpCardGateway]:
    transport = httpx.ASGITransport(app=create_app(timeout_delay=0))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        yield HttpCardGateway(client)


async def charge(gateway: HttpCardGateway, token: str, key: str = "pay-1"):  # type: ignore[no-untyped-def]
    return await gateway.charge(amount=100, currency="EUR", token=token, idempotency_key=key, reference=key)


async def test_charge_returns_approved_with_the_charge_id_when_the_card_is_good(
    gateway: HttpCardGateway,
) -> None:
    first = await charge(gateway, "tok_visa")
    assert isinstance(first, ChargeApproved)
    assert await charge(gateway, "tok_visa") == first


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("tok_chargeDeclined", "card_declined"),
        ("tok_insufficientFunds", "insufficient_funds"),
        ("tok_unknown", "refused by gateway: HTTP 400 invalid_token"),
    ],
)
async def test_charge_returns_declined_with_the_reason_when_the_gateway_declines(
    gateway: HttpCardGateway, token: str, reason: str
) -> None:
    assert await charge(gateway, token) == ChargeDeclined(reason)


async def test_charge_raises_unavailable_when_the_gateway_answers_500(gateway: HttpCardGateway) -> None:
    with pytest.raises(GatewayServerError):
        await charge(gateway, "tok_error")


async def test_charge_raises_timeout_when_the_gateway_answers_too_late() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("too late", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow), base_url="http://g") as client:
        with pytest.raises(GatewayTimeout):
            await charge(HttpCardGateway(client), "tok_timeout")


async def test_charge_raises_unreachable_when_nothing_listens() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refused), base_url="http://g") as client:
        with pytest.raises(GatewayUnreachable):
            await charge(HttpCardGateway(client), "tok_visa")


def resilient(client: httpx.AsyncClient) -> ResilientCardGateway:
    dependency = Dependency(
        "card-gateway",
        breaker=BreakerPolicy(fail_max=2, reset_timeout=60),
        retry=RetryPolicy(attempts=2, total_seconds=5, initial_backoff=0.001, max_backoff=0.001),
        timeout=1,
    )
    return ResilientCardGateway(HttpCardGateway(client), dependency)


async def test_resilient_charge_raises_unavailable_then_stops_calling_when_the_gateway_keeps_failing() -> (
    None
):
    app = create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        await client.post("/admin/chaos", json={"mode": "fail", "seconds": 60})
        gateway = resilient(client)
        with pytest.raises(GatewayUnavailable):
            await charge(gateway, "tok_visa")
        assert app.state.ledger.requests == 2, "two attempts, then the breaker opened"
        with pytest.raises(GatewayUnavailable, match="open"):
            await charge(gateway, "tok_visa")
        assert app.state.ledger.requests == 2


async def test_resilient_charge_retries_with_the_same_key_and_charges_once_when_a_call_fails() -> None:
    attempts: list[str] = []
    app = create_app()
    inner = httpx.ASGITransport(app=app)

    class FlakyOnce(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            attempts.append(request.headers["Idempotency-Key"])
            if len(attempts) == 1:
                await inner.handle_async_request(request)  # charged, but the answer is lost
                raise httpx.ReadError("connection reset", request=request)
            return await inner.handle_async_request(request)

    async with httpx.AsyncClient(transport=FlakyOnce(), base_url="http://sandbox") as client:
        result = await charge(resilient(client), "tok_visa")
    assert isinstance(result, ChargeApproved)
    assert attempts == ["pay-1", "pay-1"]
    assert len(app.state.ledger.charges) == 1


async def test_declines_never_open_the_breaker_when_cards_are_declined() -> None:
    app = create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        guarded = resilient(client)
        for n in range(5):
            assert isinstance(await charge(guarded, "tok_chargeDeclined", key=f"k{n}"), ChargeDeclined)
        assert isinstance(await charge(guarded, "tok_visa"), ChargeApproved)


async def test_void_returns_the_charges_given_back_when_the_reference_was_charged(
    gateway: HttpCardGateway,
) -> None:
    first = await charge(gateway, "tok_visa")
    assert isinstance(first, ChargeApproved)
    result = await gateway.void(reference="pay-1", idempotency_key="void:pay-1")
    assert result.charge_ids == (first.charge_id,)
    assert (await gateway.void(reference="pay-2", idempotency_key="void:pay-2")).charge_ids == ()


async def test_void_is_transient_when_the_gateway_cannot_answer_it() -> None:
    app = create_app(timeout_delay=0)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        await client.post("/admin/chaos", json={"mode": "fail", "seconds": 60})
        with pytest.raises(GatewayServerError):
            await HttpCardGateway(client).void(reference="pay-1", idempotency_key="void:pay-1")
