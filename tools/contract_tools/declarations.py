"""Collect every service's declarations into a Catalogue. The only code that imports services for contracts.

A service ``<name>`` (installed package, ``services/<name>/``) declares, in ``<name>/entrypoints/topology.py``:

- ``TOPOLOGY``: a :class:`shared.messaging.topology.Topology`;
- ``ACCEPTS``: ``{handler name: (ContractModel, ...)}``, the contract types each handler of TOPOLOGY accepts;

and, as a producer, in ``<name>/entrypoints/contract_examples.py``:

- ``examples()``: an iterable of contract instances built by the service's real domain code.

A service that does not declare (yet) is described by :mod:`contract_tools.fallback`; every use of the
fallback is reported, and ``--strict`` turns it into a failure.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType

import shared.contracts  # noqa: F401  # registers every contract module
from contract_tools import fallback
from shared.contracts.base import registered_contracts
from shared.contracts.catalogue import Catalogue, ServiceDeclaration
from shared.messaging.topology import Topology

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY_MODULE = "{service}.entrypoints.topology"
EXAMPLES_MODULE = "{service}.entrypoints.contract_examples"


@dataclass
class Loaded:
    """The catalogue, and which parts of it came from the fallback listing instead of a service."""

    catalogue: Catalogue
    fallbacks: list[str] = field(default_factory=list)


def service_names() -> list[str]:
    """Every service: each ``services/<name>/`` package, each producer of a contract, each fallback."""
    names = {path.parent.name for path in (REPO / "services").glob("*/pyproject.toml")}
    names |= {
        model.producer
        for model in registered_contracts().values()
        if model.__module__.startswith("shared.contracts.")
    }
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


def load_service(service: str, fallbacks: list[str]) -> ServiceDeclaration | None:
    """The declaration of ``service``: its own modules where present, the fallback for what is missing."""
    standby = fallback.SERVICES.get(service)
    declared = _import(TOPOLOGY_MODULE.format(service=service), service)
    if declared is not None:
        topology = getattr(declared, "TOPOLOGY", None)
        accepts = getattr(declared, "ACCEPTS", None)
        if not isinstance(topology, Topology) or accepts is None:
            raise TypeError(
                f"{declared.__name__} must define TOPOLOGY (a Topology) and ACCEPTS ({{handler: (Contract, ...)}})"
            )
        declaration = ServiceDeclaration(name=service, topology=topology, accepts=dict(accepts))
    elif standby is not None:
        fallbacks.append(
            f"{service}: topology and accepted types (no {TOPOLOGY_MODULE.format(service=service)})"
        )
        declaration = standby
    else:
        return None
    builders = _import(EXAMPLES_MODULE.format(service=service), service)
    if builders is not None:
        examples = getattr(builders, "examples", None)
        if not callable(examples):
            raise TypeError(f"{builders.__name__} must define examples() -> Iterable[Contract]")
        return replace(declaration, examples=examples)
    if standby is not None and standby.examples is not None:
        fallbacks.append(f"{service}: example messages (no {EXAMPLES_MODULE.format(service=service)})")
        return replace(declaration, examples=standby.examples)
    return replace(declaration, examples=None)


def load(names: Iterable[str] | None = None) -> Loaded:
    """Build the catalogue of the whole suite from the installed services."""
    fallbacks: list[str] = []
    services = []
    for name in names if names is not None else service_names():
        declaration = load_service(name, fallbacks)
        if declaration is not None:
            services.append(declaration)
    # Only the suite's own contracts: tests may register throwaway models in the same process.
    contracts = [
        model for model in registered_contracts().values() if model.__module__.startswith("shared.contracts.")
    ]
    catalogue = Catalogue.build(services, contracts)
    return Loaded(catalogue, fallbacks)
