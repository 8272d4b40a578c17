"""Collect every service's declarations into a Catalogue. The only code that imports services for contracts.

A service ``<name>`` (installed package, ``services/<name>/``) declares, in ``<name>/entrypoints/topology.py``
(or ``<name>/entrypoints/consumers.py``):

- ``TOPOLOGY``: a :class:`shared.messaging.topology.Topology`;
- ``ACCEPTS``: ``{handler name: (ContractModel, ...)}``, the contract types each handler of TOPOLOGY accepts
  (the same mapping its consumer registration uses); without it, the types are inferred from the bindings
  and reported;

and, as a producer, in ``<name>/entrypoints/contract_examples.py``:

- ``examples()``: an iterable of contract instances built by the service's real domain code;

and, with Celery tasks, its app as ``app`` in ``<name>/entrypoints/celery_app.py`` (see
:mod:`contract_tools.celery_tasks`).

A service that declares nothing yet is described by :mod:`contract_tools.fallback`. Every stand-in is
reported; ``--strict`` turns them into failures.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import cast

from celery import Celery

import shared.contracts  # noqa: F401  # registers every contract module
from contract_tools import fallback
from contract_tools.celery_tasks import CELERY_MODULE, task_routes
from shared.contracts.base import Contract, registered_contracts
from shared.contracts.catalogue import Catalogue, ExampleSource, ServiceDeclaration, TaskRoute, topic_matches
from shared.messaging.topology import Topology

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY_MODULES = ("{service}.entrypoints.topology", "{service}.entrypoints.consumers")
EXAMPLES_MODULE = "{service}.entrypoints.contract_examples"


@dataclass
class Loaded:
    """The catalogue, and which parts of it came from the fallback listing instead of a service."""

    catalogue: Catalogue
    fallbacks: list[str] = field(default_factory=list)


def suite_contracts() -> list[type[Contract]]:
    """The suite's own contracts: tests may register throwaway models in the same process."""
    return [
        model for model in registered_contracts().values() if model.__module__.startswith("shared.contracts.")
    ]


def service_names() -> list[str]:
    """Every service: each ``services/<name>/`` package, each producer of a contract, each fallback."""
    names = {path.parent.name for path in (REPO / "services").glob("*/pyproject.toml")}
    names |= {model.producer for model in suite_contracts()}
    names |= set(fallback.SERVICES)
    return sorted(names)


def _import(module: str, service: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # Only "this service (or this module of it) does not exist" means "not declared"; a missing
        # dependency inside a module that exists is a real error.
        if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
            return None
        raise


def _declared_topology(service: str, notes: list[str]) -> ServiceDeclaration | None:
    modules: list[ModuleType] = []
    for template in TOPOLOGY_MODULES:  # the next module only when the first does not declare both
        module = _import(template.format(service=service), service)
        if module is not None:
            modules.append(module)
            if hasattr(module, "TOPOLOGY") and hasattr(module, "ACCEPTS"):
                break
    topology = next((m.TOPOLOGY for m in modules if hasattr(m, "TOPOLOGY")), None)
    if topology is None:
        return None
    if not isinstance(topology, Topology):
        raise TypeError(f"{service}: TOPOLOGY must be a shared.messaging.topology.Topology, not {topology!r}")
    accepts = next((m.ACCEPTS for m in modules if hasattr(m, "ACCEPTS")), None)
    if accepts is None:
        notes.append(f"{service}: accepted types inferred from TOPOLOGY's bindings (declare ACCEPTS)")
        accepts = _inferred_accepts(topology)
    return ServiceDeclaration(
        name=service,
        topology=topology,
        accepts={name: tuple(models) for name, models in dict(accepts).items()},
    )


def _inferred_accepts(topology: Topology) -> dict[str, tuple[type[Contract], ...]]:
    contracts = suite_contracts()
    return {
        queue.handler: tuple(
            model
            for model in contracts
            if any(
                b.exchange == model.exchange() and topic_matches(b.pattern, model.routing_key())
                for b in queue.bindings
            )
        )
        for queue in topology.queues
    }


def _examples_from(module: ModuleType | None) -> ExampleSource | None:
    if module is None:
        return None
    examples = getattr(module, "examples", None)
    if not callable(examples):
        raise TypeError(f"{module.__name__} must define examples() -> Iterable[Contract]")
    return cast(ExampleSource, examples)


def load_service(service: str, fallbacks: list[str]) -> ServiceDeclaration | None:
    """The declaration of ``service``: its own modules where present, stand-ins for what is missing."""
    standby = fallback.SERVICES.get(service)
    declaration = _declared_topology(service, fallbacks)
    if declaration is None and standby is not None:
        fallbacks.append(
            f"{service}: topology and accepted types (fallback.py: no TOPOLOGY in {service}.entrypoints)"
        )
        declaration = standby
    if declaration is None:
        return None
    examples = _examples_from(_import(EXAMPLES_MODULE.format(service=service), service))
    if examples is None and standby is not None and standby.examples is not None:
        fallbacks.append(
            f"{service}: example messages (fallback.py: no {EXAMPLES_MODULE.format(service=service)})"
        )
        examples = standby.examples
    return replace(declaration, examples=examples, tasks=_tasks(service))


def _tasks(service: str) -> tuple[TaskRoute, ...]:
    module = _import(CELERY_MODULE.format(service=service), service)
    if module is None:
        return ()
    app = getattr(module, "app", None)
    if not isinstance(app, Celery):
        raise TypeError(f"{module.__name__} must expose its Celery app as `app`")
    return task_routes(service, app)


def load(names: Iterable[str] | None = None) -> Loaded:
    """Build the catalogue of the whole suite from the installed services."""
    fallbacks: list[str] = []
    services = []
    for name in names if names is not None else service_names():
        declaration = load_service(name, fallbacks)
        if declaration is not None:
            services.append(declaration)
    catalogue = Catalogue.build(services, suite_contracts())
    return Loaded(catalogue, fallbacks)
