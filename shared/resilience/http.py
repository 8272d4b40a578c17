"""The HTTP client of a service's dependencies, and classifying its answers and failures into typed errors.

:func:`dependency_client` builds the one kind of client services use: httpx's API (adapters and their tests stay
on it, tests with ``MockTransport``/``ASGITransport``) over aiohttp's connection pool and HTTP parser
(``httpx-aiohttp``), which cost about a third of httpcore's CPU per request: payment's CPU per checkout fell by
8 % with it (two runs side by side, 6.8/6.6 against 6.2/6.1 ms at 100 checkouts/s). aiohttp's errors arrive as
httpx's: a refused connection as ``ConnectError``, a connection lost mid-request as a ``TimeoutException``
(the outcome is unknown, as after a timeout).

2xx and the caller's business statuses are returned; 408, 425, 429 and 5xx (but 501) are transient, with
``Retry-After`` parsed from 429 and 503 answers; every other status is permanent. Connection failures are
transient, httpx timeouts are :class:`DependencyTimeout`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport

from shared.resilience.errors import DependencyTimeout, PermanentDependencyError, TransientDependencyError
from shared.resilience.idempotency import idempotency_headers

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
RETRY_AFTER_STATUSES = frozenset({429, 503})


def dependency_client(*, timeout: float, max_connections: int = 100, base_url: str = "") -> httpx.AsyncClient:
    """A long-lived client for one dependency, built at start-up and closed at stop (see module docstring).

    ``timeout`` backs up the resilience wrapper's per-attempt timeout; ``max_connections`` caps the pool.
    """
    # The transport owns the connection pool (httpx's own limits apply only to its default transport).
    transport = AiohttpTransport(limits=httpx.Limits(max_connections=max_connections))
    return httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or an HTTP date); None when absent or unparseable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def raise_for_status(
    dependency: str, response: httpx.Response, *, business_statuses: Collection[int] = ()
) -> httpx.Response:
    """Return ``response`` if 2xx or a business status; raise a transient or permanent error otherwise."""
    status = response.status_code
    if 200 <= status < 300 or status in business_statuses:
        return response
    detail = f"HTTP {status} from {response.request.method} {response.request.url.path}"
    if status in TRANSIENT_STATUSES or (status >= 500 and status != 501):
        retry_after = (
            parse_retry_after(response.headers.get("Retry-After")) if status in RETRY_AFTER_STATUSES else None
        )
        raise TransientDependencyError(dependency, detail, retry_after=retry_after)
    raise PermanentDependencyError(dependency, detail)


async def request(
    client: httpx.AsyncClient,
    dependency: str,
    method: str,
    url: str,
    *,
    idempotency_key: str | None = None,
    business_statuses: Collection[int] = (),
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request with the ``Idempotency-Key`` header and classify the answer (see module docstring)."""
    all_headers = {**(headers or {}), **idempotency_headers(idempotency_key)}
    try:
        response = await client.request(method, url, headers=all_headers, **kwargs)
    except httpx.TimeoutException as exc:
        raise DependencyTimeout(dependency, f"{method} {url}: {exc!r}") from exc
    except httpx.TransportError as exc:
        raise TransientDependencyError(dependency, f"{method} {url}: {exc!r}") from exc
    return raise_for_status(dependency, response, business_statuses=business_statuses)
