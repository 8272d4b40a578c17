"""Circuit breakers as the services report them on ``/metrics``: state per dependency, paused handlers."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

BREAKER_STATE = "warren_dependency_breaker_state"
HANDLER_PAUSED = "warren_handler_paused_by_breaker"
STATES = {0: "closed", 1: "half-open", 2: "open"}


@dataclass(frozen=True)
class BreakerReading:
    service: str
    kind: str  # "breaker" | "paused handler"
    name: str
    state: str


def read_metrics(service: str, text: str) -> list[BreakerReading]:
    """Breaker states and paused handlers from one service's Prometheus exposition ``text``."""
    readings: list[BreakerReading] = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == BREAKER_STATE:
                state = STATES.get(int(sample.value), str(sample.value))
                readings.append(
                    BreakerReading(service, "breaker", sample.labels.get("dependency", "?"), state)
                )
            elif sample.name == HANDLER_PAUSED:
                state = "paused" if sample.value else "consuming"
                readings.append(BreakerReading(service, "handler", sample.labels.get("handler", "?"), state))
    return readings


def scrape(services: dict[str, str], *, timeout: float = 3.0) -> tuple[list[BreakerReading], dict[str, str]]:
    """Read every ``{service: metrics URL}``; returns the readings and ``{service: error}`` for those down."""
    readings: list[BreakerReading] = []
    errors: dict[str, str] = {}
    with httpx.Client(timeout=timeout) as client:
        for service, url in services.items():
            try:
                response = client.get(url)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                errors[service] = f"{type(exc).__name__}: {exc}"
                continue
            readings.extend(read_metrics(service, response.text))
    return readings, errors
