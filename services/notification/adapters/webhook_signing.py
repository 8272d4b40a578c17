"""HMAC-SHA256 webhook signatures: what we send and the function a receiver uses to check it.

The signed string is ``<timestamp>.<raw body>``; the timestamp header lets the receiver refuse replays
older than its tolerance.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

SIGNATURE_HEADER = "X-Warren-Signature"
TIMESTAMP_HEADER = "X-Warren-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


class InvalidSignature(ValueError):
    """The request is not signed with the shared secret, or it is too old."""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def signature_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, body, timestamp)}


def verify(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Raise :class:`InvalidSignature` unless ``headers`` carry a fresh, valid signature of ``body``."""
    lowered = {key.lower(): value for key, value in headers.items()}
    raw_timestamp = lowered.get(TIMESTAMP_HEADER.lower())
    signature = lowered.get(SIGNATURE_HEADER.lower())
    if raw_timestamp is None or signature is None:
        raise InvalidSignature("missing signature or timestamp header")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise InvalidSignature("timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature(f"timestamp is {current - timestamp:.0f}s off (tolerance {tolerance:.0f}s)")
    # Constant-time comparison: no timing oracle on the secret.
    if not hmac.compare_digest(sign(secret, body, timestamp), signature):
        raise InvalidSignature("signature does not match")
