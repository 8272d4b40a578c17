"""Typed, classified messaging errors. Classification decides a failed message's fate."""

from __future__ import annotations


class MessagingError(Exception):
    """Base of every error raised by :mod:`shared.messaging`."""


class PermanentError(MessagingError):
    """Retrying cannot help: the message goes straight to its dead-letter queue."""


class TransientError(MessagingError):
    """May succeed later: the message goes to the next retry tier."""


class MalformedMessage(PermanentError):
    """The body does not parse, or the envelope metadata is missing or invalid."""


class UnknownMessageType(PermanentError):
    """No contract is registered for the message's type (or the handler does not accept it)."""


class PublishError(MessagingError):
    """The broker did not take responsibility for a message (nacked, returned, timed out, channel closed)."""


class UnroutableMessage(PublishError):
    """The broker returned a mandatory message: no queue is bound for its routing key."""


class TopologyMismatch(MessagingError):
    """A declared entity exists on the broker with different arguments than the declaration."""
