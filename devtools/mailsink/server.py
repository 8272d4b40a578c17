"""Run the SMTP and HTTP sides in one event loop; ports may be 0 (tests) and are read back after start."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import uvicorn
from aiosmtpd.smtp import SMTP

from mailsink.http import create_app
from mailsink.smtp import SinkHandler
from mailsink.store import MailStore


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Restarting on the same port right after a stop (the "sink down for a while" test) must not fail.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    sock.setblocking(False)
    return sock


class MailSink:
    """SMTP on ``smtp_port`` and JSON over HTTP on ``http_port``, both storing into ``directory``."""

    def __init__(
        self,
        directory: Path,
        *,
        host: str = "127.0.0.1",
        smtp_port: int = 1025,
        http_port: int = 8025,
    ) -> None:
        self.host = host
        self.smtp_port = smtp_port
        self.http_port = http_port
        self.handler = SinkHandler(MailStore(directory))
        self._smtp: asyncio.Server | None = None
        self._http: uvicorn.Server | None = None
        self._http_task: asyncio.Task[None] | None = None

    async def start_smtp(self) -> None:
        loop = asyncio.get_running_loop()
        sock = _listen(self.host, self.smtp_port)
        self.smtp_port = sock.getsockname()[1]
        self._smtp = await loop.create_server(
            lambda: SMTP(self.handler, hostname="mailsink.local", ident="Warren mail sink"), sock=sock
        )

    async def stop_smtp(self) -> None:
        """Stop accepting SMTP connections and drop the open ones (the HTTP side keeps running)."""
        if self._smtp is not None:
            self._smtp.close()
            if hasattr(self._smtp, "close_clients"):
                self._smtp.close_clients()
            await self._smtp.wait_closed()
            self._smtp = None

    async def start(self) -> None:
        await self.start_smtp()
        sock = _listen(self.host, self.http_port)
        self.http_port = sock.getsockname()[1]
        config = uvicorn.Config(create_app(self.handler), log_level="warning", lifespan="off")
        self._http = uvicorn.Server(config)
        self._http_task = asyncio.create_task(self._http.serve(sockets=[sock]))
        while not self._http.started:
            if self._http_task.done():
                await self._http_task
            await asyncio.sleep(0.01)  # uvicorn exposes no start event; this is its documented flag

    async def stop(self) -> None:
        await self.stop_smtp()
        if self._http is not None and self._http_task is not None:
            self._http.should_exit = True
            await self._http_task
            self._http = None

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"
