"""AMQP header names Warren sets on messages, in one place so the runtime, the CLI and tests agree."""

from __future__ import annotations

# Retry bookkeeping, set by the consumer runtime when it moves a message to a retry tier.
ATTEMPTS = "x-warren-attempts"  # deliveries that failed so far (1 after the first failure)
FIRST_FAILURE_AT = "x-warren-first-failure-at"  # ISO-8601 UTC time of the first failure

# Dead-letter annotations, set when the runtime moves a message to its dead-letter queue.
REASON = "x-warren-reason"  # human-readable reason (the exception message, or "retries exhausted")
EXCEPTION = "x-warren-exception"  # exception type, e.g. "pydantic_core.ValidationError"
FAILURE_CLASS = "x-warren-failure"  # "permanent" | "exhausted" | "delivery-limit"
SERVICE = "x-warren-service"
HANDLER = "x-warren-handler"
ORIGINAL_QUEUE = "x-warren-original-queue"  # where a replay sends the message back to
ORIGINAL_EXCHANGE = "x-warren-original-exchange"
ORIGINAL_ROUTING_KEY = "x-warren-original-routing-key"
DEAD_LETTERED_AT = "x-warren-dead-lettered-at"

# Per-key ordering: the consistent-hash exchange of a sharded handler queue hashes this header.
ORDERING_KEY = "x-warren-ordering-key"

# Set by RabbitMQ itself when it dead-letters (TTL expiry, rejection, delivery limit): a list of tables.
X_DEATH = "x-death"
