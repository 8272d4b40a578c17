"""RabbitMQ policies of the Warren vhost: delivery limits and length caps, by queue name pattern.

Queue *type* cannot be a policy in RabbitMQ; every Warren queue states ``x-queue-type`` itself
(quorum for handler and dead-letter queues, classic for the retry tiers). One policy applies per queue,
so the three patterns below are disjoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from warrenctl.access import SERVICES

_SERVICES = "|".join(SERVICES)


@dataclass(frozen=True)
class Policy:
    name: str
    pattern: str
    definition: dict[str, Any]
    apply_to: str = "queues"
    priority: int = 0

    def body(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "definition": self.definition,
            "apply-to": self.apply_to,
            "priority": self.priority,
        }


POLICIES: tuple[Policy, ...] = (
    # Handler queues (and their shards): a broker-side redelivery cap for queues declared without one, and a
    # length cap that makes the broker nack publishes when full, so outbox relays back off instead of the
    # broker running out of memory during a flash sale.
    Policy(
        name="warren-handler-queues",
        pattern=rf"^({_SERVICES})\.[a-z0-9_]+(\.shard\.[0-9]+)?$",
        definition={"delivery-limit": 20, "max-length": 1_000_000, "overflow": "reject-publish"},
    ),
    # Retry tiers park messages for a delay; when one overflows, the oldest is dead-lettered back to its
    # queue early (drop-head dead-letters), which is harmless.
    Policy(
        name="warren-retry-tiers",
        pattern=rf"^({_SERVICES})\..+\.retry\.[0-9]+\.[0-9a-z]+$",
        definition={"max-length": 100_000},
    ),
    # Dead letters are evidence: never dropped silently. Past the cap new ones are refused, the runtime's
    # confirmed publish fails and the message stays where it was.
    Policy(
        name="warren-dead-letters",
        pattern=rf"^({_SERVICES})\..+\.dlq$",
        definition={"max-length": 100_000, "overflow": "reject-publish"},
    ),
)
