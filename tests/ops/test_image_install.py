"""What the images install works without the source tree: every package installed the way the Dockerfile
does (regular, non-editable), then each container's command started from an empty directory. Catches a
module or data file (migrations, templates) missing from a package, which an editable install would hide."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("payment", "fraud", "inventory", "notification")
PACKAGES = [
    "shared",
    *(f"services/{s}" for s in SERVICES),
    "devtools/gateway_sandbox",
    "devtools/mailsink",
    "cli",
]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("image")
    # Build from a clean copy, as the image's build context is (.dockerignore): no build/ or egg-info left
    # over from an earlier build can smuggle in a file the package no longer lists, and the tree stays clean.
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / "src" / package, ignore=ignore)
    target = root / "site"
    pip = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "--target",
        str(target),
    ]
    subprocess.run(pip + [str(root / "src" / p) for p in PACKAGES], check=True, capture_output=True)
    return target


def _run(
    installed: Path, cwd: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(installed), **(env or {})}
    return subprocess.run(
        [sys.executable, *argv], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("service", SERVICES)
def test_migrate_runs_from_the_installed_package_when_no_source_is_around(
    installed: Path, tmp_path: Path, service: str
) -> None:
    where = _run(installed, tmp_path, "-c", f"import {service}; print({service}.__file__)")
    assert where.stdout.strip().startswith(str(installed)), where.stdout + where.stderr
    database = f"sqlite+aiosqlite:///{tmp_path / service}.db"
    result = _run(
        installed, tmp_path, "-m", service, "migrate", env={f"{service.upper()}_DATABASE_URL": database}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / f"{service}.db").stat().st_size > 0


@pytest.mark.parametrize("module", ["gateway_sandbox", "mailsink", "warrenctl.app"])
def test_dev_tools_and_cli_import_from_the_installed_package(
    installed: Path, tmp_path: Path, module: str
) -> None:
    result = _run(installed, tmp_path, "-c", f"import {module}, sys; print({module}.__file__)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(installed))


def test_celery_app_loads_from_the_installed_package(installed: Path, tmp_path: Path) -> None:
    result = _run(installed, tmp_path, "-m", "celery", "-A", "notification.entrypoints.celery_app", "report")
    assert result.returncode == 0, result.stdout + result.stderr
