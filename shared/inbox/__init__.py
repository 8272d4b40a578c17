"""Idempotent consumers: a (handler, message id) mark committed with the handler's effects."""

from shared.inbox.store import mark_handled, sweep_inbox, was_handled

__all__ = ["mark_handled", "sweep_inbox", "was_handled"]
