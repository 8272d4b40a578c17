"""Classifying HTTP answers and transport failures of a dependency into typed errors (httpx).

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

from shared.resilience.errors import DependencyTimeout, PermanentDependencyError, TransientDependencyError
from shared.resilience.idempotency import idempotency_headers

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
RETRY_AFTER_STATUSES = frozenset({429, 503})


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
