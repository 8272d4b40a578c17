"""Typed, classified failures of calls to things outside the service (gateways, SMTP, risk APIs).

Classification happens at the edge where the failure arises (the adapter that made the call) and decides
everything downstream: whether the call is retried, whether it counts against the circuit breaker, and what the
consumer runtime does with the message (transient: retry tier; permanent: dead-letter queue).
"""

from __future__ import annotations

from shared.messaging.errors import PermanentError, TransientError


class BusinessOutcome(Exception):  # an outcome, deliberately not named "...Error"
    """The dependency worked and said "no" (a declined card, an unknown address).

    Prefer returning a value for such outcomes; raise a subclass only where unwinding is clearer. It is never
    retried and never counts against the circuit breaker.
    """


class DependencyError(Exception):
    """Base of every failure of a call to dependency ``dependency``."""

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(f"{dependency}: {message}")
        self.dependency = dependency


class TransientDependencyError(DependencyError, TransientError):
    """May succeed later (5xx, 429, connection refused, timeout). ``retry_after`` is the server's hint, if any."""

    def __init__(self, dependency: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(dependency, message)
        self.retry_after = retry_after


class DependencyTimeout(TransientDependencyError):
    """The call did not finish within its timeout."""


class DependencyRejected(TransientDependencyError):
    """Refused locally without calling the dependency (breaker open, bulkhead full); not retried in-call."""


class CircuitOpenError(DependencyRejected):
    """The dependency's circuit breaker is open (or half-open with its probe in flight)."""


class BulkheadFull(DependencyRejected):
    """Too many calls to the dependency are in flight and no slot freed up within the wait bound."""


class PermanentDependencyError(DependencyError, PermanentError):
    """Retrying cannot help (400, 401, 404, 422): the request or our configuration is wrong.

    The dependency answered, so by default it does not count against the circuit breaker.
    """
