"""Idempotency keys: one stable key per logical operation, sent to the provider on every attempt.

The key must not change between retries, redeliveries of the same message, or process restarts, so it is
derived from what identifies the operation (``"charge", payment_id``), never from time or randomness. A provider
that honours ``Idempotency-Key`` then performs the effect once and replays its answer to every repeat.
"""

from __future__ import annotations

import uuid

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Fixed namespace: the same operation yields the same key in every process and every release.
_NAMESPACE = uuid.UUID("6f0d3c52-7c1e-4d55-9a43-5e0c1b2a9d10")


def idempotency_key(operation: str, *parts: object) -> str:
    """A stable key (UUIDv5) for ``operation`` on ``parts``, e.g. ``idempotency_key("charge", payment.id)``."""
    if not operation:
        raise ValueError("operation must name what is being done, e.g. 'charge'")
    text = "\x1f".join([operation, *(str(part) for part in parts)])
    return str(uuid.uuid5(_NAMESPACE, text))


def idempotency_headers(key: str | None) -> dict[str, str]:
    """The header carrying ``key`` (empty when there is no key)."""
    return {IDEMPOTENCY_HEADER: key} if key else {}
