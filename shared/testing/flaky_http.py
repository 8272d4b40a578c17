"""A real local HTTP dependency that a test controls: errors, slowness, timeouts, flapping, Retry-After.

It behaves like a payment or e-mail provider that honours ``Idempotency-Key``: a 2xx answer performs an
*effect* (recorded per key) the moment the request arrives, even if the answer is then slow or never read; a
repeat with a key that already has an effect replays the first answer and performs nothing. So a test counts
effects per key to prove "each effect once", and a client that changed its key between retries is caught.

    async with FlakyHttpServer() as dependency:
        dependency.script(fail(503), fail(429, retry_after="1"))   # the next two requests
        dependency.set_default(outage_for(30.0))                     # then down for 30 s, then healthy
        ...  httpx calls to dependency.url + "/charges" ...
        assert dependency.effects == {key: 1}

Any method and path are accepted; the JSON body of the request is echoed back under ``"request"``.

Other processes (services started as processes in an e2e test) reach it over HTTP; the test drives it through
``/_flaky/*`` (``python -m shared.testing.flaky_http --port N`` runs it on its own)::

    PUT  /_flaky/default   {"status": 503, "delay": 0, "retry_after": "2"} | {"outage_for": 30} |
                           {"flapping": {"up": 1, "down": 1}}
    POST /_flaky/script    [{"status": 503}, {"status": 200, "delay": 5}]
    POST /_flaky/healthy
    GET  /_flaky/state     {"effects": {key: n}, "keyless_effects": n, "requests": n, "max_in_flight": n}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response

from shared.runtime.http_server import HttpServer

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Reply:
    """One answer: ``status`` after ``delay`` seconds, with an optional ``Retry-After`` header."""

    status: int = 200
    delay: float = 0.0
    retry_after: str | None = None
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def performs_effect(self) -> bool:
        return 200 <= self.status < 300


Behaviour = Reply | Callable[[float], Reply]
"""What the server answers: a fixed :class:`Reply`, or a function of ``time.monotonic()`` returning one."""

OK = Reply(200)
HANG = Reply(
    200, delay=3600.0
)  # never answers within any sane client timeout; released when the server stops


def fail(status: int = 503, *, retry_after: str | float | None = None, delay: float = 0.0) -> Reply:
    """An error answer (no effect), optionally with ``Retry-After`` (seconds or an HTTP date)."""
    return Reply(status, delay=delay, retry_after=None if retry_after is None else str(retry_after))


def slow(seconds: float, status: int = 200) -> Reply:
    """A (successful, by default) answer after ``seconds``: slowness, or a timeout when above the client's."""
    return Reply(status, delay=seconds)


def decline(reason: str = "card_declined") -> Reply:
    """A business "no": HTTP 402 with a reason, no effect."""
    return Reply(402, body={"declined": True, "reason": reason})


def outage_for(seconds: float, failure: Reply | None = None) -> Callable[[float], Reply]:
    """Fail with ``failure`` (503 by default) for ``seconds`` from now, then answer 200."""
    until = time.monotonic() + seconds
    down = failure or fail(503)
    return lambda now: down if now < until else OK


def flapping(up: float, down: float, failure: Reply | None = None) -> Callable[[float], Reply]:
    """Alternate from now: healthy for ``up`` seconds, failing with ``failure`` for ``down`` seconds, repeat."""
    start = time.monotonic()
    bad = failure or fail(503)
    return lambda now: OK if (now - start) % (up + down) < up else bad


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    idempotency_key: str | None
    status: int
    replayed: bool
    at: float
    body: Any


class FlakyHttpServer:
    """Serve the controllable dependency on 127.0.0.1 (a free port); use as an async context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._default: Behaviour = OK
        self._script: list[Reply] = []
        self._closing = asyncio.Event()
        self._answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self.requests: list[RecordedRequest] = []
        self.effects: Counter[str] = Counter()
        self.keyless_effects = 0
        self.in_flight = 0
        self.max_in_flight = 0
        app = FastAPI()
        app.add_api_route("/_flaky/default", self._control_default, methods=["PUT"])
        app.add_api_route("/_flaky/script", self._control_script, methods=["POST"])
        app.add_api_route("/_flaky/healthy", self._control_healthy, methods=["POST"])
        app.add_api_route("/_flaky/state", self._control_state, methods=["GET"])
        app.add_api_route(
            "/{path:path}",
            self._handle,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            response_model=None,
        )
        self._server = HttpServer(app, host=host, port=port, name="flaky-http")

    # -- control -------------------------------------------------------------------------------------------
    def set_default(self, behaviour: Behaviour) -> None:
        """Answer every request that is not scripted with ``behaviour`` from now on."""
        self._default = behaviour

    def script(self, *replies: Reply) -> None:
        """Answer the next ``len(replies)`` requests with these, in order, before the default applies again."""
        self._script.extend(replies)

    def healthy(self) -> None:
        """Forget the script and answer 200 from now on."""
        self._script.clear()
        self._default = OK

    def outage(self, failure: Reply | None = None) -> None:
        """Fail every request (503 by default) until told otherwise."""
        self._default = failure or fail(503)

    def attempts(self, key: str) -> int:
        """Requests seen carrying idempotency key ``key``."""
        return sum(1 for r in self.requests if r.idempotency_key == key)

    # -- lifecycle -----------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    async def start(self) -> None:
        await self._server.start()

    async def stop(self) -> None:
        self._closing.set()  # release hanging and slow answers so the server can stop at once
        await self._server.stop()

    async def __aenter__(self) -> FlakyHttpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- remote control (for dependants running in other processes) ---------------------------------------
    async def _control_default(self, request: Request) -> dict[str, str]:
        spec = await request.json()
        if "outage_for" in spec:
            self.set_default(outage_for(float(spec["outage_for"])))
        elif "flapping" in spec:
            self.set_default(flapping(float(spec["flapping"]["up"]), float(spec["flapping"]["down"])))
        else:
            self.set_default(_reply_from(spec))
        return {"default": "set"}

    async def _control_script(self, request: Request) -> dict[str, int]:
        replies = [_reply_from(spec) for spec in await request.json()]
        self.script(*replies)
        return {"scripted": len(replies)}

    async def _control_healthy(self) -> dict[str, str]:
        self.healthy()
        return {"default": "healthy"}

    async def _control_state(self) -> dict[str, Any]:
        return {
            "effects": dict(self.effects),
            "keyless_effects": self.keyless_effects,
            "requests": len(self.requests),
            "max_in_flight": self.max_in_flight,
        }

    # -- serving -------------------------------------------------------------------------------------------
    def _next_reply(self) -> Reply:
        if self._script:
            return self._script.pop(0)
        behaviour = self._default
        return behaviour if isinstance(behaviour, Reply) else behaviour(time.monotonic())

    async def _handle(self, path: str, request: Request) -> Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(path, request)
        finally:
            self.in_flight -= 1

    async def _answer(self, path: str, request: Request) -> Response:
        raw = await request.body()
        try:
            payload: Any = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        key = request.headers.get(IDEMPOTENCY_HEADER)
        reply = self._next_reply()
        status, body, replayed = reply.status, {**reply.body, "request": payload}, False
        if reply.performs_effect:
            if key is not None and key in self._answers:
                status, body = self._answers[key]
                replayed = True
            elif key is not None:
                self.effects[key] += 1
                body = {**body, "effect": key}
                self._answers[key] = (status, body)
            else:
                self.keyless_effects += 1
        self.requests.append(
            RecordedRequest(request.method, "/" + path, key, status, replayed, time.monotonic(), payload)
        )
        if reply.delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(reply.delay):
                    await self._closing.wait()
        headers = {"Retry-After": reply.retry_after} if reply.retry_after is not None else {}
        return Response(json.dumps(body), status_code=status, headers=headers, media_type="application/json")


def _reply_from(spec: dict[str, Any]) -> Reply:
    retry_after = spec.get("retry_after")
    return Reply(
        status=int(spec.get("status", 200)),
        delay=float(spec.get("delay", 0.0)),
        retry_after=None if retry_after is None else str(retry_after),
        body=dict(spec.get("body") or {}),
    )


@contextlib.asynccontextmanager
async def flaky_http_server() -> AsyncIterator[FlakyHttpServer]:
    """``async with flaky_http_server() as dependency:`` (the same as ``async with FlakyHttpServer()``)."""
    async with FlakyHttpServer() as server:
        yield server


async def _serve(port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with FlakyHttpServer(port=port) as server:
        print(f"flaky HTTP dependency on {server.url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """``python -m shared.testing.flaky_http --port N``: serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    asyncio.run(_serve(parser.parse_args(argv).port))


if __name__ == "__main__":
    main()
