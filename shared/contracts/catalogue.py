"""The suite's messaging, as declared in code: who publishes which contract, who consumes it and how.

A :class:`Catalogue` is plain data. The tools that build one import every service's declarations
(``tools/contract_tools``); ``shared`` itself never imports a service. The AsyncAPI generator, the routing
contract and the consumer-driven contract checks all read the same catalogue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shared.contracts.base import Contract
from shared.messaging.topology import Binding, HandlerQueue, Topology

ExampleSource = Callable[[], Iterable[Contract]]


@dataclass(frozen=True)
class Handler:
    """One consumer handler: its queue (with bindings) and the contract types it accepts."""

    service: str
    queue: HandlerQueue
    accepts: tuple[type[Contract], ...]

    @property
    def name(self) -> str:
        return self.queue.name

    @property
    def bindings(self) -> tuple[Binding, ...]:
        return self.queue.bindings

    def accepted_types(self) -> frozenset[str]:
        """The versioned message types this handler accepts."""
        return frozenset(model.message_type for model in self.accepts)


@dataclass(frozen=True)
class TaskParameter:
    """One positional argument of a task message, with the JSON Schema of its value."""

    name: str
    schema: Mapping[str, Any]
    required: bool = True


@dataclass(frozen=True)
class TaskRoute:
    """A Celery task message: published to ``exchange`` with ``routing_key``, consumed from ``queue``.

    Task messages stay inside their service (its outbox or beat dispatches, its workers run them), so they
    need no consumer expectations, but they are catalogued and their arguments are evolution-checked.
    """

    service: str
    name: str
    exchange: str
    routing_key: str
    queue: str
    parameters: tuple[TaskParameter, ...] = ()
    summary: str = ""
    exchange_type: str = "topic"

    @property
    def key(self) -> str:
        """Its name in the catalogue and snapshots: ``task.notification.deliver_email``."""
        return f"task.{self.name}"


@dataclass(frozen=True)
class ServiceDeclaration:
    """What one service declares: its topology, what each handler accepts, and how it builds its events.

    ``examples`` is the producer's real code that builds messages (domain objects recording their events);
    the consumer-driven checks verify every consumer's expectations against what it returns.
    ``source`` says where the declaration came from: ``"declared"`` (the service's own module) or
    ``"fallback"`` (a stand-in listing used until the service lands).
    """

    name: str
    topology: Topology
    accepts: Mapping[str, Sequence[type[Contract]]] = field(default_factory=dict)
    examples: ExampleSource | None = None
    source: str = "declared"
    tasks: tuple[TaskRoute, ...] = ()

    def handlers(self) -> tuple[Handler, ...]:
        """Every handler queue with its accepted types; a queue without an ``accepts`` entry is an error."""
        missing = [queue.handler for queue in self.topology.queues if queue.handler not in self.accepts]
        unknown = sorted(set(self.accepts) - {queue.handler for queue in self.topology.queues})
        if missing or unknown:
            raise ValueError(
                f"{self.name}: ACCEPTS must name exactly the handlers of TOPOLOGY "
                f"(no accepts for {missing}, accepts for unknown handlers {unknown})"
            )
        return tuple(
            Handler(self.name, queue, tuple(self.accepts[queue.handler])) for queue in self.topology.queues
        )


@dataclass(frozen=True)
class Catalogue:
    """Every service declaration and every registered contract."""

    services: tuple[ServiceDeclaration, ...]
    contracts: tuple[type[Contract], ...]

    @classmethod
    def build(cls, services: Iterable[ServiceDeclaration], contracts: Iterable[type[Contract]]) -> Catalogue:
        """A catalogue in a stable order (services by name, contracts by type) so generated files diff well."""
        return cls(
            services=tuple(sorted(services, key=lambda service: service.name)),
            contracts=tuple(sorted(contracts, key=lambda model: model.message_type)),
        )

    def service(self, name: str) -> ServiceDeclaration:
        """The declaration of service ``name``; ``KeyError`` if it declares nothing."""
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(f"no declaration for service {name!r}")

    def handlers(self) -> tuple[Handler, ...]:
        """Every handler of every service."""
        return tuple(handler for service in self.services for handler in service.handlers())

    def tasks(self) -> tuple[TaskRoute, ...]:
        """Every Celery task message of every service, by name."""
        return tuple(sorted((task for s in self.services for task in s.tasks), key=lambda task: task.name))

    def contract(self, message_type: str) -> type[Contract]:
        """The model of ``message_type``; ``KeyError`` if no contract has that type."""
        for model in self.contracts:
            if model.message_type == message_type:
                return model
        raise KeyError(f"no contract for {message_type!r}")

    def live_contracts(self, today: date) -> tuple[type[Contract], ...]:
        """Contracts still inside their deprecation window (or never deprecated)."""
        return tuple(model for model in self.contracts if not model.past_deprecation_window(today))

    def producers(self) -> tuple[str, ...]:
        """Every service that produces at least one contract."""
        return tuple(sorted({model.producer for model in self.contracts}))

    def handlers_receiving(self, model: type[Contract]) -> tuple[Handler, ...]:
        """Handlers whose queue bindings route ``model``'s exchange and routing key to them."""
        return tuple(
            handler
            for handler in self.handlers()
            if any(
                binding.exchange == model.exchange() and topic_matches(binding.pattern, model.routing_key())
                for binding in handler.bindings
            )
        )


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one word, ``#`` is zero or more words."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[skip:]) for skip in range(len(words) + 1))
    if not words:
        return False
    return (head in ("*", words[0])) and _match(rest, words[1:])
