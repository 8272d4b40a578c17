"""Read the Procfile (the one list of processes, used by ``make run`` and mirrored by docker-compose.yml)."""

from __future__ import annotations

import importlib.util
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Process:
    name: str
    command: str

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.command)

    @property
    def module(self) -> str | None:
        """The top-level Python package the process runs (``python -m payment`` / ``celery -A notification...``)."""
        argv = self.argv
        for flag in ("-m", "-A", "--app"):
            if flag in argv and argv.index(flag) + 1 < len(argv):
                return argv[argv.index(flag) + 1].split(".")[0].split(":")[0]
        return None

    def installed(self) -> bool:
        """Whether the package it runs is importable in this environment."""
        module = self.module
        return module is None or importlib.util.find_spec(module) is not None


def read_procfile(path: Path) -> list[Process]:
    """Parse ``name: command`` lines, skipping blanks and ``#`` comments."""
    processes: list[Process] = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, _, command = stripped.partition(":")
        processes.append(Process(name.strip(), command.strip()))
    return processes
