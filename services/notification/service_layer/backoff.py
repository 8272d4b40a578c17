"""Retry delays for delivery tasks: exponential, capped, with jitter, never below one second."""

from __future__ import annotations

import math
import random


def retry_delay(
    retries: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> int:
    """Seconds to wait before attempt ``retries + 2``: ``base * 2**retries`` capped, jittered to [50%, 100%].

    Whole seconds, at least 1: RabbitMQ native delayed delivery routes by whole seconds. A provider's
    ``Retry-After`` is honoured up to the cap.
    """
    ceiling = min(cap, base * (2 ** min(retries, 32)))
    delay = (rng or random).uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return max(1, math.ceil(delay))
