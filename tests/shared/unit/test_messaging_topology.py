"""Topology names and the declaration plan (what the broker and the management UI will show)."""

from __future__ import annotations

import pytest

from shared.messaging.declare import (
    differing_arguments,
    mismatch_from_broker_text,
    plan,
)
from shared.messaging.topology import QueueType, Topology, handler_queue

ON_PAYMENT = handler_queue(
    "fraud", "on_payment", [("payment.events", "payment.requested")], retry_delays=(0.5, 10, 60)
)


def test_queue_names_read_like_a_table_of_contents_when_tiers_have_mixed_units() -> None:
    assert ON_PAYMENT.name == "fraud.on_payment"
    assert ON_PAYMENT.dlq_name == "fraud.on_payment.dlq"
    assert ON_PAYMENT.retry_queue_names == (
        "fraud.on_payment.retry.1.500ms",
        "fraud.on_payment.retry.2.10s",
        "fraud.on_payment.retry.3.1m",
    )


def test_sharded_queue_names_its_shards_and_their_tiers_when_shards_are_set() -> None:
    queue = handler_queue("ledger", "on_entry", [("books.events", "#")], retry_delays=(1,), shards=2)
    assert queue.source_queues == ("ledger.on_entry.shard.1", "ledger.on_entry.shard.2")
    assert queue.retry_queue_names == (
        "ledger.on_entry.shard.1.retry.1.1s",
        "ledger.on_entry.shard.2.retry.1.1s",
    )
    assert queue.hash_exchange == "ledger.on_entry.hash"
    assert queue.ordered


@pytest.mark.parametrize("options", [{"shards": 0}, {"prefetch": 0}, {"retry_delays": (1, 0)}])
def test_handler_queue_refuses_when_options_make_no_sense(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        handler_queue("fraud", "x", [("payment.events", "#")], **options)


def test_plan_declares_exchanges_queues_and_bindings_when_topology_has_one_handler() -> None:
    declared = plan(Topology("fraud", queues=(ON_PAYMENT,)))
    assert [(e.name, e.type) for e in declared.exchanges] == [
        ("fraud.events", "topic"),
        ("fraud.retry", "direct"),
        ("fraud.dead-letter", "direct"),
        ("payment.events", "topic"),
    ]
    queues = {q.name: q.arguments for q in declared.queues}
    assert queues["fraud.on_payment"] == {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "fraud.dead-letter",
        "x-dead-letter-routing-key": "fraud.on_payment.dlq",
        "x-delivery-limit": 20,
    }
    assert queues["fraud.on_payment.retry.1.500ms"] == {
        "x-queue-type": "classic",
        "x-message-ttl": 500,
        "x-dead-letter-exchange": "fraud.retry",
        "x-dead-letter-routing-key": "fraud.on_payment",
    }
    assert queues["fraud.on_payment.dlq"] == {"x-queue-type": "quorum"}
    bindings = {(b.source, b.destination, b.routing_key) for b in declared.bindings}
    assert bindings == {
        ("payment.events", "fraud.on_payment", "payment.requested"),
        ("fraud.retry", "fraud.on_payment", "fraud.on_payment"),
        ("fraud.retry", "fraud.on_payment.retry.1.500ms", "fraud.on_payment.retry.1.500ms"),
        ("fraud.retry", "fraud.on_payment.retry.2.10s", "fraud.on_payment.retry.2.10s"),
        ("fraud.retry", "fraud.on_payment.retry.3.1m", "fraud.on_payment.retry.3.1m"),
        ("fraud.dead-letter", "fraud.on_payment.dlq", "fraud.on_payment.dlq"),
    }


def test_classic_queue_has_no_delivery_limit_when_queue_type_is_classic() -> None:
    queue = handler_queue("fraud", "x", [("payment.events", "#")], queue_type=QueueType.CLASSIC)
    arguments = {q.name: q.arguments for q in plan(Topology("fraud", queues=(queue,))).queues}["fraud.x"]
    assert arguments["x-queue-type"] == "classic"
    assert "x-delivery-limit" not in arguments


def test_plan_puts_a_consistent_hash_exchange_before_single_active_shards_when_sharded() -> None:
    queue = handler_queue("ledger", "on_entry", [("books.events", "books.#")], shards=2, retry_delays=())
    declared = plan(Topology("ledger", publishes=False, queues=(queue,)))
    exchanges = {e.name: (e.type, e.arguments) for e in declared.exchanges}
    assert exchanges["ledger.on_entry.hash"] == (
        "x-consistent-hash",
        {"hash-header": "x-warren-ordering-key"},
    )
    bindings = {(b.source, b.destination, b.routing_key, b.to_exchange) for b in declared.bindings}
    assert ("books.events", "ledger.on_entry.hash", "books.#", True) in bindings
    assert ("ledger.on_entry.hash", "ledger.on_entry.shard.1", "1", False) in bindings
    shard = {q.name: q.arguments for q in declared.queues}["ledger.on_entry.shard.2"]
    assert shard["x-single-active-consumer"] is True
    assert shard["x-dead-letter-routing-key"] == "ledger.on_entry.dlq"


def test_differing_arguments_lists_every_difference_when_queue_exists_otherwise() -> None:
    assert differing_arguments(
        {"x-queue-type": "quorum", "x-delivery-limit": 5, "x-max-length": 10},
        {"x-queue-type": "quorum", "x-delivery-limit": 20},
    ) == {"x-delivery-limit": (5, 20), "x-max-length": (10, None)}
    assert differing_arguments({"x-queue-type": "classic"}, {}) == {}  # no type argument means classic


def test_broker_text_becomes_a_named_mismatch_when_precondition_failed() -> None:
    text = (
        "PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue 'fraud.on_payment' in vhost 'warren': "
        "received the value '5' of type 'signedint' but current is the value '20' of type 'signedint'"
    )
    mismatch = mismatch_from_broker_text(text)
    assert mismatch is not None
    assert "queue 'fraud.on_payment'" in str(mismatch)
    assert "x-delivery-limit" in str(mismatch)
    assert mismatch_from_broker_text("NOT_FOUND - no queue") is None
