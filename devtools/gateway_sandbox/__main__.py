"""``python -m gateway_sandbox [serve]``: run the sandbox (GATEWAY_SANDBOX_HOST / _PORT / _TIMEOUT_DELAY)."""

from __future__ import annotations

import argparse

import uvicorn
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway_sandbox.app import create_app


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_SANDBOX_")

    host: str = "127.0.0.1"
    port: int = 8090
    timeout_delay: float = 30.0


def main(argv: list[str] | None = None) -> None:
    settings = SandboxSettings()
    parser = argparse.ArgumentParser(prog="gateway_sandbox", description=__doc__)
    parser.add_argument("command", nargs="?", default="serve", choices=["serve"])
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--timeout-delay", type=float, default=settings.timeout_delay)
    args = parser.parse_args(argv)
    app = create_app(timeout_delay=args.timeout_delay)
    # uvicorn handles SIGTERM/SIGINT itself: stops accepting, finishes in-flight requests, exits.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
