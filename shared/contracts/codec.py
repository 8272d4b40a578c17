"""The one way to put a contract into an envelope (producers) and to take it out again (consumers).

Both directions validate: a producer cannot emit a payload its own schema rejects, and a consumer never sees a
raw dict. A payload that does not validate raises :class:`ContractViolation`, a permanent error, so the consumer
runtime dead-letters it at once with the validation error as its reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import ValidationError

from shared.contracts.base import Contract
from shared.messaging.envelope import Envelope
from shared.messaging.errors import PermanentError, UnknownMessageType

C = TypeVar("C", bound=Contract)


class ContractViolation(PermanentError):
    """A payload does not validate against the contract of its message type."""

    def __init__(self, message_type: str, error: ValidationError) -> None:
        self.message_type = message_type
        self.errors = error.errors(include_url=False, include_input=False)
        # One line, no input echo: it becomes the dead-letter reason header an operator reads.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or '(payload)'}: {item['msg']}"
            for item in self.errors
        )
        super().__init__(f"{message_type} payload violates its contract: {problems}")


def payload_of(contract: Contract) -> dict[str, Any]:
    """The JSON payload of ``contract``, validated again as its model reads it (what a consumer will see).

    Raises :class:`ContractViolation` for an instance that bypassed validation (``model_construct``) or holds
    a value that does not survive serialisation. Code storing payloads itself (an outbox row) uses this.
    """
    model = type(contract)
    message_type = getattr(model, "message_type", None)
    if message_type is None:
        raise TypeError(f"{model.__qualname__} declares no message_type; only concrete contracts are sent")
    payload = contract.model_dump(mode="json")
    try:
        model.model_validate(payload)
    except ValidationError as exc:
        raise ContractViolation(message_type, exc) from exc
    return payload


def envelope_for(
    contract: Contract,
    *,
    correlation_id: str | None = None,
    causation: Envelope | None = None,
    traceparent: str | None = None,
    **envelope_fields: Any,
) -> Envelope:
    """Validate ``contract`` and wrap it in a new envelope of its type, published by its producer.

    ``causation`` is the message being handled, if any: the new envelope keeps its correlation id and
    traceparent and names it as cause. Without either, a message starts its own conversation (correlation
    id = its message id). ``envelope_fields`` pass through to :class:`Envelope` (e.g. ``message_id``).
    """
    model = type(contract)
    payload = payload_of(contract)
    fields: dict[str, Any] = dict(envelope_fields)
    if causation is not None:
        fields["causation_id"] = str(causation.message_id)
        correlation_id = correlation_id or causation.correlation_id
        traceparent = traceparent or causation.traceparent
    message_id = fields.pop("message_id", None) or uuid.uuid4()
    return Envelope(
        message_id=message_id,
        type=model.message_type,
        correlation_id=correlation_id or str(message_id),
        producer=model.producer,
        traceparent=traceparent,
        payload=payload,
        **fields,
    )


def decode(envelope: Envelope, accepts: Iterable[type[C]]) -> C:
    """The validated contract inside ``envelope``, as the accepted model registered for its type.

    Raises :class:`UnknownMessageType` when ``accepts`` has no model for the envelope's type and
    :class:`ContractViolation` when the payload does not validate; both are permanent errors.
    """
    accepted = {model.message_type: model for model in accepts}
    model = accepted.get(envelope.type)
    if model is None:
        raise UnknownMessageType(
            f"{envelope.type} is not accepted here (accepts: {', '.join(sorted(accepted)) or 'nothing'})"
        )
    try:
        return model.model_validate(envelope.payload)
    except ValidationError as exc:
        raise ContractViolation(envelope.type, exc) from exc
