"""Run the official AsyncAPI parser (``@asyncapi/parser`` under tools/asyncapi) on a document."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from contract_tools.declarations import REPO

TOOLS = REPO / "tools" / "asyncapi"
PARSER_PACKAGE = TOOLS / "node_modules" / "@asyncapi" / "parser" / "package.json"


def ensure_installed() -> None:
    """``npm ci`` from the committed lockfile unless the parser is already installed (what `make contract` does)."""
    if PARSER_PACKAGE.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: the AsyncAPI parser needs node >= 18 and npm")
    subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"],
        cwd=TOOLS,
        check=True,
        timeout=600,
    )


def validate(document: Path) -> subprocess.CompletedProcess[str]:
    """Validate ``document`` with the parser; the result's returncode is 0 only for a valid document."""
    ensure_installed()
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed: the AsyncAPI parser needs node >= 18")
    return subprocess.run(
        [node, str(TOOLS / "validate.mjs"), str(document)], capture_output=True, text=True, timeout=120
    )
