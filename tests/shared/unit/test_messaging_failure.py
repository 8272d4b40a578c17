"""Failure classification, retry-tier choice and dead-letter headers (pure functions, no broker)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from shared.messaging import headers as h
from shared.messaging.errors import MalformedMessage, PermanentError, TransientError, UnknownMessageType
from shared.messaging.failure import (
    DeadLetter,
    Delivery,
    FailureClass,
    Retry,
    classify,
    decide,
    describe_dead_letter,
)
from shared.messaging.topology import handler_queue

QUEUE = handler_queue("fraud", "on_payment", [("payment.events", "payment.*")], retry_delays=(1, 10))
FIRST = Delivery("fraud.on_payment", "payment.events", "payment.requested")
FROM_TIER = Delivery("fraud.on_payment", "fraud.retry", "fraud.on_payment")
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class Strict(BaseModel):
    amount: int


def validation_error() -> ValidationError:
    try:
        Strict.model_validate({"amount": "lots"})
    except ValidationError as exc:
        return exc
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    "exc",
    [MalformedMessage("x"), UnknownMessageType("x"), PermanentError("x"), validation_error()],
    ids=["malformed", "unknown-type", "permanent", "validation"],
)
def test_classify_says_permanent_when_retrying_cannot_help(exc: Exception) -> None:
    assert classify(exc) is FailureClass.PERMANENT


@pytest.mark.parametrize("exc", [TransientError("x"), ConnectionError(), TimeoutError(), KeyError("k")])
def test_classify_says_transient_when_error_is_not_marked_permanent(exc: Exception) -> None:
    assert classify(exc) is FailureClass.TRANSIENT


def test_first_transient_failure_goes_to_tier_one_when_message_is_fresh() -> None:
    outcome = decide(ConnectionError("gateway down"), QUEUE, FIRST, {"occurred_at": "t"}, now=NOW)
    assert isinstance(outcome, Retry)
    assert (outcome.queue, outcome.tier) == ("fraud.on_payment.retry.1.1s", 0)
    assert outcome.headers[h.ATTEMPTS] == 1
    assert outcome.headers[h.FIRST_FAILURE_AT] == NOW.isoformat()
    assert outcome.headers[h.ORIGINAL_EXCHANGE] == "payment.events"
    assert outcome.headers[h.ORIGINAL_ROUTING_KEY] == "payment.requested"
    assert outcome.headers["occurred_at"] == "t"  # the envelope's own headers survive


def test_second_failure_goes_to_tier_two_keeping_first_failure_and_origin_when_retried_once() -> None:
    first = decide(ConnectionError(), QUEUE, FIRST, {}, now=NOW)
    later = datetime(2026, 1, 2, 3, 5, tzinfo=UTC)
    second = decide(ConnectionError(), QUEUE, FROM_TIER, first.headers, now=later)
    assert isinstance(second, Retry)
    assert second.queue == "fraud.on_payment.retry.2.10s"
    assert second.headers[h.ATTEMPTS] == 2
    assert second.headers[h.FIRST_FAILURE_AT] == NOW.isoformat()
    assert second.headers[h.ORIGINAL_EXCHANGE] == "payment.events"


def test_failure_after_last_tier_is_dead_lettered_as_exhausted_when_tiers_are_used_up() -> None:
    outcome = decide(TimeoutError("slow"), QUEUE, FROM_TIER, {h.ATTEMPTS: 2}, now=NOW)
    assert isinstance(outcome, DeadLetter)
    assert outcome.queue == "fraud.on_payment.dlq"
    assert outcome.failure is FailureClass.EXHAUSTED
    assert outcome.headers[h.ATTEMPTS] == 3
    assert outcome.headers[h.REASON] == "retries exhausted after 3 attempts: slow"
    assert outcome.headers[h.EXCEPTION] == "builtins.TimeoutError"
    assert outcome.headers[h.FAILURE_CLASS] == "exhausted"
    assert outcome.headers[h.DEAD_LETTERED_AT] == NOW.isoformat()


def test_permanent_failure_is_dead_lettered_at_once_with_every_header_when_message_is_fresh() -> None:
    outcome = decide(PermanentError("card number invalid"), QUEUE, FIRST, {}, now=NOW)
    assert isinstance(outcome, DeadLetter)
    assert outcome.failure is FailureClass.PERMANENT
    assert {
        key: outcome.headers[key]
        for key in (
            h.REASON,
            h.EXCEPTION,
            h.FAILURE_CLASS,
            h.SERVICE,
            h.HANDLER,
            h.ATTEMPTS,
            h.ORIGINAL_QUEUE,
        )
    } == {
        h.REASON: "card number invalid",
        h.EXCEPTION: "shared.messaging.errors.PermanentError",
        h.FAILURE_CLASS: "permanent",
        h.SERVICE: "fraud",
        h.HANDLER: "on_payment",
        h.ATTEMPTS: 1,
        h.ORIGINAL_QUEUE: "fraud.on_payment",
    }


def test_queue_without_tiers_dead_letters_first_transient_failure_when_no_retry_is_configured() -> None:
    queue = handler_queue("fraud", "once", [("payment.events", "#")], retry_delays=())
    outcome = decide(ConnectionError(), queue, FIRST, {})
    assert isinstance(outcome, DeadLetter)
    assert outcome.failure is FailureClass.EXHAUSTED


def test_describe_reads_runtime_headers_when_runtime_dead_lettered() -> None:
    outcome = decide(PermanentError("nope"), QUEUE, FIRST, {}, now=NOW)
    record = describe_dead_letter(outcome.headers)
    assert record.failure == "permanent"
    assert record.reason == "nope"
    assert (record.service, record.handler, record.attempts) == ("fraud", "on_payment", 1)
    assert record.original_routing_key == "payment.requested"


def test_describe_reads_x_death_when_broker_dead_lettered_on_delivery_limit() -> None:
    headers = {
        h.X_DEATH: [
            {
                "count": 1,
                "reason": "delivery_limit",
                "queue": "fraud.on_payment",
                "time": NOW,
                "exchange": "payment.events",
                "routing-keys": ["payment.requested"],
            },
            {"count": 2, "reason": "expired", "queue": "fraud.on_payment.retry.1.1s"},
        ],
        h.ATTEMPTS: 2,
    }
    record = describe_dead_letter(headers)
    assert record.failure == "delivery-limit"
    assert record.original_queue == "fraud.on_payment"
    assert record.original_exchange == "payment.events"
    assert record.original_routing_key == "payment.requested"
    assert record.first_failure_at == NOW.isoformat()
    assert record.attempts == 3
