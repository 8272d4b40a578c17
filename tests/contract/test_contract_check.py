import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from contract_tools import artefacts
from contract_tools.declarations import REPO, Loaded


def test_every_contract_check_passes_when_the_committed_artefacts_match_the_code(
    loaded: Loaded, today: date
) -> None:
    report = artefacts.check(loaded.catalogue, today)

    assert report.ok, report.render()


def test_the_check_fails_naming_the_artefact_when_the_committed_asyncapi_is_stale(
    loaded: Loaded, today: date, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / "asyncapi.json"
    stale.write_text(artefacts.ASYNCAPI.read_text().replace('"payment.captured"', '"payment.charged"', 1))
    monkeypatch.setattr(artefacts, "ASYNCAPI", stale)

    report = artefacts.check(loaded.catalogue, today)

    assert not report.ok
    assert report.sections["asyncapi: contracts/asyncapi.json matches the code"] == [
        "contracts/asyncapi.json is out of date: run `make contract-update` and commit contracts/"
    ]


def test_the_cli_exits_zero_and_reports_every_section_when_contracts_hold() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "tools")}

    result = subprocess.run(
        [sys.executable, "-m", "contract_tools", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   consumers: every expectation holds against its producer" in result.stdout
    assert "ok   routing: bindings and routing keys meet" in result.stdout


def test_every_contract_lives_in_its_producers_module_when_registered(loaded: Loaded) -> None:
    misplaced = [
        f"{model.message_type} ({model.__module__}, producer {model.producer})"
        for model in loaded.catalogue.contracts
        if model.__module__ != f"shared.contracts.{model.producer}"
        or model.routing_key().split(".")[0] != model.producer
    ]

    assert misplaced == []
