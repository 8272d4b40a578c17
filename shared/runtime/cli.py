"""The ``python -m <service> serve|migrate`` command line every service shares."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from shared.observability.logging import configure_logging

log = logging.getLogger(__name__)

EVENT_LOOPS = ("uvloop", "asyncio")


def event_loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The loop factory for ``<SERVICE>_EVENT_LOOP``: ``uvloop`` (default) or ``asyncio`` (the standard loop).

    uvloop runs the event loop itself in C. A Warren service is a loop that spends most of its time handing
    small socket reads and writes between the broker, the database and HTTP, and on the standard loop that
    hand-off, written in Python, is a large share of the CPU a checkout costs (docs/payment.md, Benchmark).
    """
    if choice not in EVENT_LOOPS:
        raise SystemExit(f"event loop must be one of {', '.join(EVENT_LOOPS)}, not {choice!r}")
    if choice == "asyncio":
        return None
    import uvloop  # a dependency of shared; imported here so `migrate` and tests do not need it loaded

    return uvloop.new_event_loop


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
        return 0
    loop_factory = event_loop_factory(os.environ.get(f"{prefix}_EVENT_LOOP", "uvloop").lower())
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve())
    return 0
