"""The ``python -m <service> serve|migrate`` command line every service shares."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from shared.observability.logging import configure_logging


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
    # Logging first, so every line of the process names its service; the level is the service's own
    # <SERVICE>_LOG_LEVEL setting (a later logging.basicConfig in the service is then a no-op).
    prefix = service.upper()
    as_json = os.environ.get(f"{prefix}_LOG_FORMAT", "text").lower() == "json"
    configure_logging(
        service, os.environ.get(f"{prefix}_LOG_LEVEL", "INFO"), log_format="json" if as_json else "text"
    )
    if args.command == "migrate":
        migrate()
    else:
        asyncio.run(serve())
    return 0
