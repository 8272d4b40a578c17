"""Payloads are validated when published and when consumed; an invalid one is dead-lettered with the reason.

Runs once in memory and once on RabbitMQ (the messaging harness), through the real consumer runtime.
"""

from typing import Any

import pytest

from shared.contracts import ContractViolation, decode, envelope_for
from shared.contracts.payment import PaymentCaptured
from shared.messaging.envelope import Envelope
from shared.messaging.topology import Topology, events_exchange, handler_queue
from shared.testing.messaging_harness import MessagingHarness

PRODUCER = Topology(service="payment")
ON_CAPTURED = handler_queue(
    "contracts", "on_captured", [(events_exchange("payment"), "payment.captured")], retry_delays=(0.05,)
)
CONSUMER = Topology(
    service="contracts", publishes=False, queues=(ON_CAPTURED,), consumes_from=("payment.events",)
)

FIELDS: dict[str, Any] = {
    "payment_id": "pay-1",
    "order_id": "order-1",
    "customer_id": "cust-1",
    "customer_email": "ada@example.com",
    "amount": 2500,
    "currency": "EUR",
    "charge_id": "ch_1",
}


async def test_an_invalid_payload_is_dead_lettered_with_its_validation_error_when_consumed(
    messaging_harness: MessagingHarness,
) -> None:
    handled: list[PaymentCaptured] = []

    async def handle(message: PaymentCaptured, envelope: Envelope) -> None:
        handled.append(message)

    messaging_harness.register(ON_CAPTURED, handle, accepts=[PaymentCaptured])
    await messaging_harness.start(PRODUCER, CONSUMER)
    valid = envelope_for(PaymentCaptured.model_validate(FIELDS), correlation_id="corr-1")
    # A producer that bypassed envelope_for: the payload lacks charge_id and has a negative amount.
    invalid = Envelope(
        type="payment.captured.v1",
        correlation_id="corr-2",
        producer="payment",
        payload={**{k: v for k, v in FIELDS.items() if k != "charge_id"}, "amount": -1},
    )

    await messaging_harness.publish("payment.events", valid)
    await messaging_harness.publish("payment.events", invalid)
    await messaging_harness.settle()

    assert handled == [PaymentCaptured.model_validate(FIELDS)]
    [dead] = await messaging_harness.dead_letters(ON_CAPTURED)
    assert dead.message_id == str(invalid.message_id)
    assert dead.record.failure == "permanent"
    assert dead.record.attempts <= 1  # straight to the dead-letter queue, no retry tier
    assert "charge_id" in dead.record.reason
    assert "amount" in dead.record.reason
    # The runtime's reason is the same validation error decode() reports.
    with pytest.raises(ContractViolation, match=r"charge_id: Field required"):
        decode(invalid, accepts=[PaymentCaptured])


def test_an_invalid_message_never_reaches_the_outbox_when_published_through_envelope_for() -> None:
    forged = PaymentCaptured.model_construct(**{**FIELDS, "currency": "euro"})

    with pytest.raises(
        ContractViolation, match=r"payment\.captured\.v1 payload violates its contract: currency"
    ):
        envelope_for(forged)
