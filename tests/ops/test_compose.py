"""docker-compose.yml and the images, checked without a Docker engine: schema, commands, safety."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from warrenctl.procfile import read_procfile

ROOT = Path(__file__).resolve().parents[2]
VENDORED_SCHEMA = ROOT / "deploy/schemas/compose-spec.json"


def _shared_schema() -> Path:
    """The workspace's canonical copy, ``../shared/schemas`` next to the main checkout (also from a worktree)."""
    common = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    checkouts = [ROOT] + ([Path(common).parent] if common else [])
    for checkout in checkouts:
        candidate = checkout.parent / "shared/schemas/compose-spec.json"
        if candidate.exists():
            return candidate
    return VENDORED_SCHEMA  # a clean clone (CI) has only the vendored copy


SHARED_SCHEMA = _shared_schema()
SERVICES = ("payment", "fraud", "inventory", "notification")
LONG_RUNNING = ("rabbitmq", "postgres", "gateway", "mailsink", *SERVICES, "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def test_compose_file_is_valid_when_checked_against_the_compose_specification(
    compose: dict[str, Any],
) -> None:
    schema = json.loads(SHARED_SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert [f"{list(e.path)}: {e.message}" for e in errors] == []


def test_vendored_schema_matches_the_shared_one_when_both_exist() -> None:
    if SHARED_SCHEMA.exists():
        assert json.loads(VENDORED_SCHEMA.read_text()) == json.loads(SHARED_SCHEMA.read_text())
    else:
        assert json.loads(VENDORED_SCHEMA.read_text())["$schema"].startswith(
            "http://json-schema.org/draft-07"
        )


def test_each_container_runs_the_procfile_command_when_compared_with_make_run(
    compose: dict[str, Any],
) -> None:
    processes = read_procfile(ROOT / "Procfile")
    assert {p.name for p in processes} >= {"gateway", "mailsink", *SERVICES, "worker", "beat"}
    for process in processes:
        assert compose["services"][process.name]["command"] == shlex.split(process.command), process.name


def test_each_migration_container_runs_the_migrate_command_of_make_run(compose: dict[str, Any]) -> None:
    run_script = (ROOT / "scripts/run").read_text()
    assert 'python -m "$service" migrate' in run_script
    for service in SERVICES:
        assert compose["services"][f"{service}-migrate"]["command"] == ["python", "-m", service, "migrate"]
        assert re.search(rf"\b{service}\b", run_script.split("for service in", 1)[1].splitlines()[0])


def test_services_wait_for_healthy_dependencies_when_starting(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in LONG_RUNNING:
        assert "healthcheck" in services[name], f"{name} has no health check"
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions, not a list"
        for dependency, rule in depends.items():
            assert rule["condition"] in {"service_healthy", "service_completed_successfully"}, (
                name,
                dependency,
            )
            assert dependency in services
    for service in SERVICES:
        assert (
            services[service]["depends_on"][f"{service}-migrate"]["condition"]
            == "service_completed_successfully"
        )


def test_no_guest_user_or_literal_secret_when_configuring_containers(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "guest" not in text
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if "PASSWORD" in key:
                assert value.startswith("${"), f"{name}.{key} must come from the environment"
            for userinfo in re.findall(r"://([^@/]+)@", value):
                assert ":${" in userinfo, f"{name}.{key} embeds a literal password"
    for service in SERVICES:
        assert compose["services"][service]["environment"][f"{service.upper()}_ENVIRONMENT"] == "production"


def test_dockerfile_is_multi_stage_non_root_and_installs_dependencies_before_code() -> None:
    lines = [line.strip() for line in (ROOT / "deploy/docker/Dockerfile").read_text().splitlines()]
    froms = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    assert len(froms) == 2, "a build stage and a slim final stage"
    final = lines[froms[1] :]
    assert any(re.match(r"USER (?!0\b|root\b)\S+", line) for line in final)
    assert not any(re.search(r"apt-get|gcc|build-essential", line) for line in final)
    deps = next(i for i, line in enumerate(lines) if "pip install -c constraints.txt" in line)
    code = next(i for i, line in enumerate(lines) if line.startswith("COPY shared/ "))
    assert deps < code, "dependencies must be installed before the source is copied (layer cache)"


def test_every_built_package_exists_when_compose_names_it(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        package = (service.get("build") or {}).get("args", {}).get("PACKAGE")
        if package is None:
            continue
        assert package in {
            "cli",
            *(f"services/{s}" for s in SERVICES),
            "devtools/gateway_sandbox",
            "devtools/mailsink",
        }, name


def test_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()}
    assert {".env", "var", ".venv", ".git", "**/build"} <= ignored
