"""The routing contract: bindings and emitted routing keys must meet, and queues receive only what they accept.

Checked over a :class:`~shared.contracts.catalogue.Catalogue`:

1. every binding pattern of every handler matches at least one routing key some producer emits;
2. every emitted routing key reaches a handler, or its contract says why not (``intentionally_unconsumed``);
3. every message routed to a handler's queue is a type the handler accepts (otherwise it would be
   dead-lettered as an unknown type on arrival), and every accepted type is routed to the queue;
4. a handler that accepts one version of a fact accepts every live version of it (the deprecation window);
5. a service's ``consumes_from`` names exactly the exchanges its handlers bind to.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from shared.contracts.base import Contract
from shared.contracts.catalogue import Catalogue, topic_matches


def check_routing(catalogue: Catalogue, today: date) -> list[str]:
    """Every routing-contract violation in ``catalogue``, one readable sentence each (empty when sound)."""
    live = catalogue.live_contracts(today)
    emitted: dict[tuple[str, str], list[type[Contract]]] = defaultdict(list)
    for model in live:
        emitted[(model.exchange(), model.routing_key())].append(model)
    versions: dict[str, set[str]] = defaultdict(set)
    for model in live:
        versions[model.routing_key()].add(model.message_type)

    problems: list[str] = []
    for handler in catalogue.handlers():
        for binding in handler.bindings:
            if not any(
                exchange == binding.exchange and topic_matches(binding.pattern, key)
                for exchange, key in emitted
            ):
                problems.append(
                    f"{handler.name} binds {binding.exchange!r} with pattern {binding.pattern!r}, "
                    "but no producer emits a matching routing key there"
                )
        routed = {
            model.message_type
            for (exchange, key), models in emitted.items()
            for model in models
            if any(b.exchange == exchange and topic_matches(b.pattern, key) for b in handler.bindings)
        }
        accepted = handler.accepted_types()
        for message_type in sorted(routed - accepted):
            problems.append(
                f"{handler.name} receives {message_type} through its bindings but does not accept it "
                "(it would be dead-lettered as an unknown type): narrow the binding or accept the type"
            )
        for model in handler.accepts:
            if model.message_type not in routed and not model.past_deprecation_window(today):
                problems.append(
                    f"{handler.name} accepts {model.message_type} but no binding routes "
                    f"{model.exchange()!r} / {model.routing_key()!r} to it"
                )
            missing = sorted(versions[model.routing_key()] - accepted)
            if missing:
                problems.append(
                    f"{handler.name} accepts {model.message_type} but not {', '.join(missing)}: a consumer "
                    "keeps accepting every live version of a fact until the old one's deprecated_until"
                )

    for (exchange, key), models in sorted(emitted.items()):
        receivers = catalogue.handlers_receiving(models[0])
        for model in models:
            if not receivers and model.intentionally_unconsumed is None:
                problems.append(
                    f"{model.message_type} ({exchange!r} / {key!r}, produced by {model.producer}) reaches no "
                    "consumer: bind a handler to it or set intentionally_unconsumed on the contract"
                )
            if receivers and model.intentionally_unconsumed is not None:
                names = ", ".join(handler.name for handler in receivers)
                problems.append(
                    f"{model.message_type} is marked intentionally_unconsumed but {names} consume it: "
                    "remove the marker"
                )
    for service in catalogue.services:
        bound = {b.exchange for queue in service.topology.queues for b in queue.bindings}
        declared = set(service.topology.consumes_from)
        for exchange in sorted(bound - declared):
            problems.append(
                f"{service.name} binds to {exchange!r} but its TOPOLOGY.consumes_from does not list it"
            )
        for exchange in sorted(declared - bound):
            problems.append(f"{service.name} lists {exchange!r} in consumes_from but no handler binds to it")
    for model in catalogue.contracts:
        if model.past_deprecation_window(today):
            problems.append(
                f"{model.message_type} passed its deprecated_until ({model.deprecated_until}): remove the "
                "model and every handler's registration of it"
            )
    return problems
