from collections.abc import AsyncIterator

import httpx
import pytest

from gateway_sandbox.app import create_app
from payment.adapters.gateway import GatewayServerError, GatewayTimeout, GatewayUnreachable, HttpCardGateway
from payment.domain.model import ChargeApproved, ChargeDeclined


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
