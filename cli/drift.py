"""Topology drift: what the services declare (their ``TOPOLOGY`` planned by :mod:`shared.messaging.declare`)
against what the broker actually has, as a list of differences an operator can act on."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Where each service keeps its Topology (first module found wins); importing them never connects.
TOPOLOGY_MODULES = ("{service}.entrypoints.topology", "{service}.entrypoints.consumers", "{service}.topology")
# Declared by the notification service's Celery app, not by its Topology: never reported as strays.
CELERY_MANAGED = ("notification.tasks", "notifications.")
# Queue arguments RabbitMQ adds or a policy may own; not part of what a service declares.
_IGNORED_ARGUMENTS = frozenset({"x-queue-leader-locator"})


@dataclass(frozen=True)
class BindingKey:
    source: str
    destination: str
    routing_key: str
    destination_type: str = "queue"

    def __str__(self) -> str:
        return f"{self.source} -> {self.destination_type} {self.destination} ({self.routing_key!r})"


@dataclass
class Expected:
    """The declared topology of one or more services, in a broker-neutral shape."""

    exchanges: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    bindings: set[BindingKey] = field(default_factory=set)
    owners: set[str] = field(default_factory=set)  # service names whose namespaces are checked for strays

    def add_plan(self, service: str, plan: Any) -> None:
        """Merge a :class:`shared.messaging.declare.Plan`."""
        self.owners.add(service)
        for exchange in plan.exchanges:
            self.exchanges.setdefault(exchange.name, (exchange.type, dict(exchange.arguments)))
        for queue in plan.queues:
            self.queues[queue.name] = dict(queue.arguments)
        for binding in plan.bindings:
            kind = "exchange" if binding.to_exchange else "queue"
            self.bindings.add(BindingKey(binding.source, binding.destination, binding.routing_key, kind))


@dataclass(frozen=True)
class Drift:
    kind: str  # missing | unexpected | different
    entity: str  # exchange | queue | binding
    name: str
    detail: str = ""


def load_topologies(services: Iterable[str]) -> dict[str, Any]:
    """``{service: Topology}`` for every installed service that exposes a ``TOPOLOGY``."""
    found: dict[str, Any] = {}
    for service in services:
        for template in TOPOLOGY_MODULES:
            try:
                module = importlib.import_module(template.format(service=service))
            except ModuleNotFoundError:
                continue
            topology = getattr(module, "TOPOLOGY", None)
            if topology is not None:
                found[service] = topology
                break
    return found


def expected_from_topologies(topologies: Mapping[str, Any]) -> Expected:
    """What the services' topologies plus broker set-up (every ``<service>.events``) should have made."""
    from shared.messaging.declare import plan  # the messaging runtime's own planner: one source of truth
    from warrenctl.access import SERVICES
    from warrenctl.broker_setup import service_exchanges

    expected = Expected()
    for service in SERVICES:
        for name, kind in service_exchanges(service):
            expected.exchanges[name] = (kind, {})
    for service, topology in topologies.items():
        expected.add_plan(service, plan(topology))
    return expected


def _normalize(arguments: Mapping[str, Any], *, queue: bool) -> dict[str, Any]:
    result = {k: v for k, v in arguments.items() if k not in _IGNORED_ARGUMENTS}
    if queue:
        result.setdefault("x-queue-type", "classic")
    return result


def compare(
    expected: Expected,
    exchanges: list[dict[str, Any]],
    queues: list[dict[str, Any]],
    bindings: list[dict[str, Any]],
) -> list[Drift]:
    """Differences between ``expected`` and the management API's exchanges, queues and bindings."""
    drifts: list[Drift] = []
    actual_exchanges = {e["name"]: e for e in exchanges if e["name"]}
    actual_queues = {q["name"]: q for q in queues}
    actual_bindings = {
        BindingKey(b["source"], b["destination"], b["routing_key"], b["destination_type"])
        for b in bindings
        if b["source"]  # the default exchange's implicit bindings
    }

    for name, (kind, arguments) in sorted(expected.exchanges.items()):
        actual = actual_exchanges.get(name)
        if actual is None:
            drifts.append(Drift("missing", "exchange", name, f"type {kind}"))
        elif actual["type"] != kind or _normalize(actual.get("arguments") or {}, queue=False) != arguments:
            drifts.append(
                Drift(
                    "different",
                    "exchange",
                    name,
                    f"declared {kind} {arguments}, broker has {actual['type']} {actual.get('arguments')}",
                )
            )
    for name, arguments in sorted(expected.queues.items()):
        actual = actual_queues.get(name)
        if actual is None:
            drifts.append(Drift("missing", "queue", name))
            continue
        declared = _normalize(arguments, queue=True)
        present = _normalize(actual.get("arguments") or {}, queue=True)
        differences = {
            key: (declared.get(key), present.get(key))
            for key in sorted(set(declared) | set(present))
            if declared.get(key) != present.get(key)
        }
        if differences:
            text = ", ".join(
                f"{key}: declared {mine!r}, broker has {theirs!r}"
                for key, (mine, theirs) in differences.items()
            )
            drifts.append(Drift("different", "queue", name, text))
    for binding in sorted(expected.bindings - actual_bindings, key=str):
        drifts.append(Drift("missing", "binding", str(binding)))

    def owned(name: str) -> bool:
        if name.startswith(CELERY_MANAGED):
            return False
        return any(name.startswith(f"{service}.") for service in expected.owners)

    for name in sorted(set(actual_queues) - set(expected.queues)):
        if owned(name):
            drifts.append(
                Drift("unexpected", "queue", name, f"{actual_queues[name].get('messages', 0)} message(s)")
            )
    for name in sorted(set(actual_exchanges) - set(expected.exchanges)):
        if owned(name):
            drifts.append(Drift("unexpected", "exchange", name))
    for binding in sorted(actual_bindings - expected.bindings, key=str):
        if owned(binding.destination) and binding.destination in expected.queues:
            drifts.append(Drift("unexpected", "binding", str(binding)))
    return drifts
