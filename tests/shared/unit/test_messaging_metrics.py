"""The per-handler series are plain numbers, exported to the default registry at scrape time."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY, generate_latest

from shared.messaging.metrics import handler_series


def labels() -> dict[str, str]:
    return {"service": "meter", "handler": f"on_{uuid.uuid4().hex[:8]}"}


def test_counts_are_scraped_with_the_standard_names_when_a_handler_ran() -> None:
    names = labels()
    series = handler_series(**names)
    series.consumed += 3
    series.acked += 2
    assert REGISTRY.get_sample_value("warren_messages_consumed_total", names) == 3
    assert REGISTRY.get_sample_value("warren_messages_acked_total", names) == 2
    assert handler_series(**names) is series  # one series per handler, shared by its users


def test_duration_buckets_are_cumulative_when_scraped() -> None:
    names = labels()
    series = handler_series(**names)
    for seconds in (0.0005, 0.001, 0.003, 0.2, 100.0):
        series.observe(seconds)

    def bucket(le: str) -> float | None:
        return REGISTRY.get_sample_value("warren_handler_duration_seconds_bucket", {**names, "le": le})

    assert bucket("0.001") == 2  # a bound counts observations equal to it
    assert bucket("0.005") == 3
    assert bucket("0.25") == 4
    assert bucket("30.0") == 4
    assert bucket("+Inf") == 5
    assert REGISTRY.get_sample_value("warren_handler_duration_seconds_count", names) == 5
    assert REGISTRY.get_sample_value("warren_handler_duration_seconds_sum", names) == sum(
        (0.0005, 0.001, 0.003, 0.2, 100.0)
    )
    assert b"# TYPE warren_handler_duration_seconds histogram" in generate_latest(REGISTRY)
