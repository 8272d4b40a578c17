import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_tools import fallback
from contract_tools.declarations import load_service

from shared.contracts.payment import PaymentRequested

TOPOLOGY = """
from shared.contracts.payment import PaymentRequested
from shared.messaging.topology import Topology, handler_queue

TOPOLOGY = Topology(
    service="{name}",
    queues=(handler_queue("{name}", "on_payment_requested", [("payment.events", "payment.requested")]),),
)
ACCEPTS = {{"on_payment_requested": (PaymentRequested,)}}
"""

EXAMPLES = """
from shared.contracts.fraud import FraudAssessed, FraudDecision

def examples():
    yield FraudAssessed(payment_id="p", decision=FraudDecision.APPROVED, score=1)
"""


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module in [name for name in sys.modules if name.split(".")[0].startswith("fakesvc")]:
        del sys.modules[module]


def write_service(root: Path, name: str, files: dict[str, str]) -> None:
    for relative, text in {"__init__.py": "", "entrypoints/__init__.py": "", **files}.items():
        path = root / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_a_service_is_loaded_from_its_own_modules_when_it_declares_them(package: Path) -> None:
    write_service(
        package,
        "fakesvc_full",
        {
            "entrypoints/topology.py": TOPOLOGY.format(name="fakesvc_full"),
            "entrypoints/contract_examples.py": EXAMPLES,
        },
    )
    fallbacks: list[str] = []

    declaration = load_service("fakesvc_full", fallbacks)

    assert declaration is not None
    assert fallbacks == []
    assert declaration.source == "declared"
    assert [handler.name for handler in declaration.handlers()] == ["fakesvc_full.on_payment_requested"]
    assert declaration.examples is not None
    assert [example.message_type for example in declaration.examples()] == ["fraud.assessed.v1"]


def test_accepted_types_are_inferred_and_reported_when_a_service_declares_no_accepts(package: Path) -> None:
    text = TOPOLOGY.format(name="fakesvc_partial").replace("ACCEPTS =", "_ACCEPTS =")
    write_service(package, "fakesvc_partial", {"entrypoints/consumers.py": text})
    notes: list[str] = []

    declaration = load_service("fakesvc_partial", notes)

    assert declaration is not None
    assert dict(declaration.accepts) == {"on_payment_requested": (PaymentRequested,)}
    assert notes == ["fakesvc_partial: accepted types inferred from TOPOLOGY's bindings (declare ACCEPTS)"]


def test_loading_fails_when_topology_is_not_a_topology(package: Path) -> None:
    write_service(package, "fakesvc_wrong", {"entrypoints/topology.py": "TOPOLOGY = {'service': 'x'}\n"})

    with pytest.raises(
        TypeError, match=r"fakesvc_wrong: TOPOLOGY must be a shared\.messaging\.topology\.Topology"
    ):
        load_service("fakesvc_wrong", [])


def test_a_missing_dependency_raises_when_the_declaration_module_itself_exists(package: Path) -> None:
    write_service(
        package, "fakesvc_broken", {"entrypoints/topology.py": "import not_a_real_dependency_xyz\n"}
    )

    with pytest.raises(ModuleNotFoundError, match="not_a_real_dependency_xyz"):
        load_service("fakesvc_broken", [])


def test_handlers_fail_when_accepts_and_topology_name_different_handlers(package: Path) -> None:
    text = TOPOLOGY.format(name="fakesvc_mismatch").replace('{"on_payment_requested"', '{"on_requested"')
    write_service(package, "fakesvc_mismatch", {"entrypoints/topology.py": text})
    declaration = load_service("fakesvc_mismatch", [])
    assert declaration is not None

    with pytest.raises(
        ValueError, match=r"no accepts for \['on_payment_requested'\].*unknown handlers \['on_requested'\]"
    ):
        declaration.handlers()


def test_the_fallback_is_used_and_reported_when_a_service_declares_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(fallback.SERVICES, "fakesvc_absent", fallback.SERVICES["fraud"])
    fallbacks: list[str] = []

    declaration = load_service("fakesvc_absent", fallbacks)

    assert declaration == fallback.SERVICES["fraud"]
    assert fallbacks == [
        "fakesvc_absent: topology and accepted types (fallback.py: no TOPOLOGY in fakesvc_absent.entrypoints)",
        "fakesvc_absent: example messages (fallback.py: no fakesvc_absent.entrypoints.contract_examples)",
    ]


def test_nothing_is_loaded_when_a_service_neither_declares_nor_has_a_fallback() -> None:
    assert load_service("fakesvc_unknown", []) is None


def test_consumers_module_is_not_imported_when_topology_declares_everything(package: Path) -> None:
    write_service(
        package,
        "fakesvc_lazy",
        {
            "entrypoints/topology.py": TOPOLOGY.format(name="fakesvc_lazy"),
            "entrypoints/consumers.py": "raise RuntimeError('runtime wiring imported')\n",
        },
    )

    declaration = load_service("fakesvc_lazy", [])

    assert declaration is not None
    assert "fakesvc_lazy.entrypoints.consumers" not in sys.modules
