"""Transactional outbox: rows written with the state, relayed to RabbitMQ after commit (see docs/outbox-inbox.md)."""

from shared.outbox.relay import OutboxRelay, RelaySettings

__all__ = ["OutboxRelay", "RelaySettings"]
