"""What the fraud handler needs from the outside world, as narrow protocols (adapters implement them)."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from fraud.domain.rules import Assessment, PaymentFacts


class AssessmentRepository(Protocol):
    async def get(self, payment_id: str) -> Assessment | None: ...

    def add(self, assessment: Assessment) -> None: ...

    async def lock_customer(self, customer_id: str) -> None:
        """Serialise this customer's assessments until commit, so velocity counts are exact."""
        ...

    async def count_between(self, customer_id: str, after: datetime, before: datetime) -> int:
        """Assessed payments of the customer requested strictly between ``after`` and ``before``."""
        ...


class FraudUnitOfWork(Protocol):
    @property
    def assessments(self) -> AssessmentRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...


class RiskScorer(Protocol):
    """An external risk score, 0 (safe) to 100; None when it could not be had (rules decide alone)."""

    async def score(self, facts: PaymentFacts) -> int | None: ...
