"""Versioned message contracts: one module per producing service. The only business nouns in shared/."""

from shared.contracts import fraud, inventory, payment
from shared.contracts.base import Command, Contract, Event, contract_for, registered_contracts

__all__ = [
    "Command",
    "Contract",
    "Event",
    "contract_for",
    "fraud",
    "inventory",
    "payment",
    "registered_contracts",
]
