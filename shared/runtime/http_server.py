"""Uvicorn as a lifecycle component, so the service's own signal handling decides when HTTP stops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The lifecycle owns SIGTERM/SIGINT; uvicorn must not exit the process on its own.
        yield


class HttpServer:
    """Serve ``app`` on ``host:port``; ``start`` returns once the socket is listening."""

    def __init__(self, app: FastAPI, *, host: str, port: int, name: str = "http") -> None:
        self.name = name
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(), name=self.name)
        while not self._server.started:
            if self._task.done():
                self._task.result()  # re-raise the bind error (port in use, ...)
                raise RuntimeError(f"{self.name} stopped before it started")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task

    @property
    def port(self) -> int:
        """The bound port (useful when configured with port 0)."""
        servers = getattr(self._server, "servers", [])
        for server in servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return int(self._server.config.port)
