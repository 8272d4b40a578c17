"""Base of every versioned message contract, and the registry that maps a type string to its model."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from shared.messaging.envelope import split_message_type
from shared.messaging.errors import UnknownMessageType
from shared.messaging.topology import events_exchange

_REGISTRY: dict[str, type[Contract]] = {}

C = TypeVar("C", bound="Contract")


class Contract(BaseModel):
    """A message schema. Subclasses set ``message_type`` (``payment.captured.v1``) and register themselves.

    Unknown fields are ignored on read (a tolerant reader), so a producer may add optional fields within a
    version without breaking consumers; removing, renaming or retyping a field needs a new version
    (docs/contracts.md has the rules and the deprecation window).

    ``class Draft(PaymentCaptured, register=False)`` declares a model without registering it (tests use this
    to build deliberately broken producers).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    message_type: ClassVar[str]
    producer: ClassVar[str]
    # Set on an old version once its successor exists: the last day consumers must still accept it
    # (in-flight, outbox-pending and dead-lettered messages of the old version drain during the window).
    deprecated_until: ClassVar[date | None] = None
    # Why no service consumes this type (e.g. "operator-facing: read from the management UI"). A type
    # without a consumer and without this reason fails the routing contract.
    intentionally_unconsumed: ClassVar[str | None] = None

    def __init_subclass__(cls, *, register: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        message_type = cls.__dict__.get("message_type")
        if message_type is None or not register:
            return  # an abstract intermediate base, or a deliberately unregistered model
        split_message_type(message_type)
        existing = _REGISTRY.get(message_type)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise TypeError(
                f"{message_type} is declared twice: {existing.__qualname__} and {cls.__qualname__}"
            )
        _REGISTRY[message_type] = cls

    @classmethod
    def routing_key(cls) -> str:
        """The routing key this type is published with: the type without its version."""
        return split_message_type(cls.message_type)[0]

    @classmethod
    def version(cls) -> int:
        """The schema version: ``1`` for ``payment.captured.v1``."""
        return split_message_type(cls.message_type)[1]

    @classmethod
    def exchange(cls) -> str:
        """The topic exchange this type is published to: its producer's ``<producer>.events``."""
        return events_exchange(cls.producer)

    @classmethod
    def past_deprecation_window(cls, today: date) -> bool:
        """True once a successor version exists and ``today`` is past this version's window."""
        return cls.deprecated_until is not None and today > cls.deprecated_until


class Event(Contract):
    """A fact that happened, named in the past tense (``PaymentCaptured``)."""


class Command(Contract):
    """A request to do something, named in the imperative (``SendNotification``)."""


def contract_for(message_type: str) -> type[Contract]:
    """The model registered for ``message_type``; :class:`UnknownMessageType` if there is none."""
    try:
        return _REGISTRY[message_type]
    except KeyError:
        raise UnknownMessageType(f"no contract is registered for message type {message_type!r}") from None


def registered_contracts() -> dict[str, type[Contract]]:
    """Every registered contract by type string (import the per-service modules first)."""
    return dict(_REGISTRY)


def parse(message_type: str, payload: dict[str, Any], model: type[C]) -> C:
    """Validate ``payload`` as ``model``; the caller maps ``ValidationError`` to a permanent failure."""
    if message_type != model.message_type:
        raise UnknownMessageType(f"expected {model.message_type}, got {message_type}")
    return model.model_validate(payload)
