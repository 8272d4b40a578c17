"""The ``python -m <service> serve|migrate`` command line every service shares."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any


def service_main(
    service: str,
    *,
    serve: Callable[[], Coroutine[Any, Any, None]],
    migrate: Callable[[], None],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse ``serve`` (default) or ``migrate`` and run it; returns the process exit code."""
    parser = argparse.ArgumentParser(prog=f"python -m {service}", description=f"Warren {service} service")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run HTTP, consumers and the outbox relay until SIGTERM/SIGINT")
    commands.add_parser("migrate", help="upgrade the service's database to the latest schema (alembic)")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        migrate()
    else:
        asyncio.run(serve())
    return 0
