"""HTTP client of the card gateway (the sandbox speaks the same API). Classifies every answer at the edge.

2xx is a charge, 402 a decline, other 4xx a refusal we treat as a decline (retrying cannot change it): all
three are answers, returned as values, so they never count against the circuit breaker. 5xx, 429, timeouts
and connection errors are transient dependency errors: the outcome is unknown, and a retry with the same
idempotency key is safe. :class:`ResilientCardGateway` runs each charge under the platform's
:class:`~shared.resilience.dependency.Dependency` (retries, breaker, timeout, bulkhead) and turns what is still
unknown after that into :class:`GatewayUnavailable` for the service layer.
"""

from __future__ import annotations

import time

import httpx

from payment.adapters import metrics
from payment.domain.model import ChargeApproved, ChargeDeclined, ChargeResult, VoidResult
from payment.service_layer.ports import GatewayUnavailable
from shared.resilience.dependency import Dependency
from shared.resilience.errors import DependencyTimeout, TransientDependencyError

DEPENDENCY = "card-gateway"


class GatewayServerError(TransientDependencyError):
    """The gateway answered 5xx or 429 (or an unreadable 2xx)."""

    def __init__(self, message: str) -> None:
        super().__init__(DEPENDENCY, message)


class GatewayTimeout(DependencyTimeout):
    """No answer in time: the charge may or may not have happened."""

    def __init__(self, message: str) -> None:
        super().__init__(DEPENDENCY, message)


class GatewayUnreachable(TransientDependencyError):
    """The connection could not be made."""

    def __init__(self, message: str) -> None:
        super().__init__(DEPENDENCY, message)


class HttpCardGateway:
    """One ``POST /v1/charges`` per call, on a long-lived client built by the entrypoint."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def charge(
        self, *, amount: int, currency: str, token: str, idempotency_key: str, reference: str
    ) -> ChargeResult:
        started = time.perf_counter()
        try:
            result = await self._charge(amount, currency, token, idempotency_key, reference)
        except TransientDependencyError:
            metrics.GATEWAY_CALLS.labels(result="unavailable").inc()
            raise
        finally:
            metrics.GATEWAY_SECONDS.observe(time.perf_counter() - started)
        approved = isinstance(result, ChargeApproved)
        metrics.GATEWAY_CALLS.labels(result="approved" if approved else "declined").inc()
        return result

    async def void(self, *, reference: str, idempotency_key: str) -> VoidResult:
        """``POST /v1/voids``: give back what ``reference`` charged and refuse any charge still in flight."""
        started = time.perf_counter()
        try:
            result = await self._void(reference, idempotency_key)
        except TransientDependencyError:
            metrics.VOIDS.labels(result="unavailable").inc()
            raise
        finally:
            metrics.GATEWAY_SECONDS.observe(time.perf_counter() - started)
        metrics.VOIDS.labels(result="voided" if result.charge_ids else "nothing_charged").inc()
        return result

    async def _void(self, reference: str, idempotency_key: str) -> VoidResult:
        try:
            response = await self._client.post(
                "/v1/voids", json={"reference": reference}, headers={"Idempotency-Key": idempotency_key}
            )
        except httpx.TimeoutException as exc:
            raise GatewayTimeout(f"gateway timed out: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise GatewayUnreachable(f"gateway unreachable: {exc!r}") from exc
        if not response.is_success:
            # A void must happen: any refusal is kept visible and retried, never taken as an answer.
            raise GatewayServerError(f"gateway answered HTTP {response.status_code} to the void")
        try:
            body = response.json()
            return VoidResult(tuple(str(charge_id) for charge_id in body["charge_ids"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise GatewayServerError("gateway answered the void with an unreadable body") from exc

    async def _charge(
        self, amount: int, currency: str, token: str, idempotency_key: str, reference: str
    ) -> ChargeResult:
        try:
            response = await self._client.post(
                "/v1/charges",
                json={"amount": amount, "currency": currency, "token": token, "reference": reference},
                headers={"Idempotency-Key": idempotency_key},
            )
        except httpx.TimeoutException as exc:
            raise GatewayTimeout(f"gateway timed out: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise GatewayUnreachable(f"gateway unreachable: {exc!r}") from exc
        if response.status_code >= 500:
            raise GatewayServerError(f"gateway answered HTTP {response.status_code}")
        if response.is_success:
            charge_id = _field(response, "id")
            if charge_id is None:
                raise GatewayServerError("gateway answered success without a charge id")
            return ChargeApproved(charge_id)
        if response.status_code == 402:
            return ChargeDeclined(_field(response, "decline_code") or "declined")
        if response.status_code == 429:
            raise GatewayServerError("gateway rate-limited the charge (HTTP 429)")
        return ChargeDeclined(
            f"refused by gateway: HTTP {response.status_code} {_field(response, 'error') or ''}".strip()
        )


class ResilientCardGateway:
    """The card gateway behind retries, a circuit breaker, a timeout and a bulkhead (one :class:`Dependency`)."""

    def __init__(self, gateway: HttpCardGateway, dependency: Dependency) -> None:
        self._gateway = gateway
        self._dependency = dependency

    async def charge(
        self, *, amount: int, currency: str, token: str, idempotency_key: str, reference: str
    ) -> ChargeResult:
        try:
            # Every attempt carries the same key: the gateway charges once, whichever attempt got through.
            return await self._dependency.call(
                self._gateway.charge,
                amount=amount,
                currency=currency,
                token=token,
                reference=reference,
                idempotency_key=idempotency_key,
            )
        except TransientDependencyError as exc:  # timeouts, 5xx, refused, breaker open, bulkhead full
            raise GatewayUnavailable(str(exc)) from exc

    async def void(self, *, reference: str, idempotency_key: str) -> VoidResult:
        try:
            return await self._dependency.call(
                self._gateway.void, reference=reference, idempotency_key=idempotency_key
            )
        except TransientDependencyError as exc:
            raise GatewayUnavailable(str(exc)) from exc


def _field(response: httpx.Response, name: str) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    value = body.get(name) if isinstance(body, dict) else None
    if value is None and isinstance(body, dict) and isinstance(body.get("detail"), dict):
        value = body["detail"].get(name)
    return None if value is None else str(value)
