"""An in-memory RabbitMQ stand-in for service tests: same topology, same handler runtime, no network.

It declares a :class:`~shared.messaging.topology.Topology` with the same plan as the real broker, routes by
topic pattern, and runs handlers through the same :class:`~shared.messaging.dispatch.Route` as the consumer
runtime, so acks, retry tiers and dead-letter headers are decided exactly as in production. Retry tiers run
on a virtual clock: :meth:`MemoryBroker.fast_forward` expires them at once, nothing waits for real.

Example::

    broker = MemoryBroker()
    broker.declare(FRAUD_TOPOLOGY)
    broker.register(FRAUD_TOPOLOGY.queue("on_payment_requested"), assess_payment, accepts=[PaymentRequested])
    await broker.publish("payment.events", envelope_for(PaymentRequested(...)))
    await broker.drain()                      # handle everything, expiring retry tiers as needed
    assert broker.dead_letters("fraud.on_payment_requested.dlq") == []

For a test that must run both in memory and against RabbitMQ, use the ``messaging_harness`` fixture from
:mod:`shared.testing.messaging_harness`.
"""

from shared.messaging.topology import topic_matches
from shared.testing.memory_broker.broker import MemoryBroker, hash_bucket
from shared.testing.memory_broker.storage import DeadLettered, MemoryDelivery, MemoryQueue, StoredMessage

__all__ = [
    "DeadLettered",
    "MemoryBroker",
    "MemoryDelivery",
    "MemoryQueue",
    "StoredMessage",
    "hash_bucket",
    "topic_matches",
]
