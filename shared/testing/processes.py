"""Running Warren services as real processes (end-to-end tests, benchmarks): free ports, readiness, graceful stop.

``ServiceProcess("payment", port, env, log).start()`` runs ``python -m payment serve`` with ``env`` on top of
this process's environment and returns once ``/readyz`` answers 200; ``stop()`` sends SIGTERM and waits.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.testing.waiting import wait_for


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceProcess:
    """``python -m <module> <args>`` with ``env``; output goes to ``log``; ready once ``ready_path`` answers 200."""

    module: str
    port: int
    env: dict[str, str]
    log: Path
    args: tuple[str, ...] = ("serve",)
    ready_path: str = "/readyz"
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Base URL of the process's HTTP server."""
        return f"http://127.0.0.1:{self.port}"

    async def run(self, *args: str, timeout: float = 60.0) -> None:
        """Run a one-shot command of the module (``migrate``) and fail with its output if it fails."""
        with self.log.open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", self.module, *args, env=self._environment(), stdout=out, stderr=out
            )
            code = await asyncio.wait_for(process.wait(), timeout)
        if code != 0:
            raise RuntimeError(f"{self.module} {' '.join(args)} exited {code}:\n{self.tail()}")

    async def start(self, *, timeout: float = 60.0) -> None:
        """Start the process and return once it answers ``ready_path`` with 200 (raise if it exits)."""
        out = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", self.module, *self.args, env=self._environment(), stdout=out, stderr=out
        )
        out.close()
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:

            async def ready() -> bool:
                assert self.process is not None
                if self.process.returncode is not None:
                    raise RuntimeError(f"{self.module} exited {self.process.returncode}:\n{self.tail()}")
                try:
                    return (await client.get(self.ready_path)).status_code == 200
                except httpx.TransportError:
                    return False

            try:
                # mypy cannot pick between wait_for's sync and async overload for a coroutine function.
                await wait_for(ready, timeout=timeout, interval=0.1, message=f"{self.module} ready")  # type: ignore[arg-type]
            except TimeoutError as exc:
                raise TimeoutError(f"{exc}\n{self.tail()}") from None

    async def stop(self, *, grace: float = 20.0) -> int | None:
        """SIGTERM, wait up to ``grace`` for a graceful exit, then SIGKILL. Returns the exit code."""
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            process.kill()
            return await process.wait()

    def tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the process's output, for failure messages."""
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def _environment(self) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
