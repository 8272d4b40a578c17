"""Versioned message contracts: one module per producing service. The only business nouns in shared/.

Producers build envelopes with :func:`envelope_for`; consumers read them with :func:`decode`
(docs/contracts.md).
"""

from shared.contracts import fraud, inventory, payment
from shared.contracts.base import Command, Contract, Event, contract_for, registered_contracts
from shared.contracts.codec import ContractViolation, decode, envelope_for, payload_of

__all__ = [
    "Command",
    "Contract",
    "ContractViolation",
    "Event",
    "contract_for",
    "decode",
    "envelope_for",
    "fraud",
    "inventory",
    "payload_of",
    "payment",
    "registered_contracts",
]
