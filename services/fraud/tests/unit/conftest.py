"""In-memory fakes of fraud's ports, so the handler runs with no database, broker or network."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Self

import pytest

from fraud.domain.rules import Assessment, PaymentFacts
from shared.contracts.base import Event


class FakeAssessments:
    def __init__(self) -> None:
        self.rows: dict[str, Assessment] = {}
        self.seen: list[Assessment] = []

    async def get(self, payment_id: str) -> Assessment | None:
        assessment = self.rows.get(payment_id)
        if assessment is not None:
            self.seen.append(assessment)
        return assessment

    def add(self, assessment: Assessment) -> None:
        self.rows[assessment.payment_id] = assessment
        self.seen.append(assessment)

    async def lock_customer(self, customer_id: str) -> None:
        return None

    async def count_between(self, customer_id: str, after: datetime, before: datetime) -> int:
        return sum(
            1 for a in self.rows.values() if a.customer_id == customer_id and after < a.requested_at < before
        )


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.assessments = FakeAssessments()
        self.published: list[Event] = []

    async def __aenter__(self) -> Self:
        self.assessments.seen = []
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.assessments.seen = []

    async def commit(self) -> None:
        for assessment in self.assessments.seen:
            self.published.extend(assessment.events)
            assessment.events.clear()


class FakeRiskScorer:
    def __init__(self, score: int | None) -> None:
        self.value = score
        self.asked: list[str] = []

    async def score(self, facts: PaymentFacts) -> int | None:
        self.asked.append(facts.payment_id)
        return self.value


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def scorer_answering() -> type[FakeRiskScorer]:
    return FakeRiskScorer
