"""Events produced by the fraud service on the ``fraud.events`` exchange."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from shared.contracts.base import Event


class FraudDecision(StrEnum):
    APPROVED = "approved"
    REVIEW = "review"
    REJECTED = "rejected"


class FraudAssessed(Event):
    producer: ClassVar[str] = "fraud"
    message_type: ClassVar[str] = "fraud.assessed.v1"

    payment_id: str
    decision: FraudDecision
    score: int
    reasons: tuple[str, ...] = ()
