"""``warren outbox``: each service's outbox, pending and failed rows, retry."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from warrenctl import outbox
from warrenctl.access import SERVICES
from warrenctl.durations import humanize
from warrenctl.settings import RUN_ENV_FILE
from warrenctl.terminal import console, fail

T = TypeVar("T")

outbox_app = typer.Typer(help="Transactional outboxes: pending, failed, retry.", no_args_is_help=True)


def _outbox_admin() -> Any:
    try:
        return outbox.admin()
    except ImportError as exc:
        raise fail(f"this installation has no outbox admin functions (shared.outbox.admin): {exc}") from exc


def _database_urls(service: list[str] | None) -> dict[str, str]:
    urls = outbox.database_urls(service or SERVICES, RUN_ENV_FILE)
    if not urls:
        raise fail(f"no <SERVICE>_DATABASE_URL set and no {RUN_ENV_FILE}; run `make run` once or export them")
    return urls


def _per_service(urls: dict[str, str], work: Callable[[Any], Awaitable[T]]) -> dict[str, T | Exception]:
    async def main() -> dict[str, T | Exception]:
        results: dict[str, T | Exception] = {}
        for name, url in urls.items():
            try:
                results[name] = await outbox.with_engine(url, work)
            except Exception as exc:  # one unreachable database must not hide the others
                results[name] = exc
        return results

    return asyncio.run(main())


@outbox_app.command("status")
def outbox_status(service: Annotated[list[str] | None, typer.Option(help="repeatable")] = None) -> None:
    """Pending rows and the age of the oldest, failed and sent counts, per service."""
    admin = _outbox_admin()
    results = _per_service(_database_urls(service), admin.outbox_stats)
    table = Table(title="outboxes")
    for column in ("service", "pending", "oldest pending", "failed", "sent"):
        table.add_column(column, justify="left" if column == "service" else "right")
    for name, stats in results.items():
        if isinstance(stats, Exception):
            table.add_row(name, f"[red]{type(stats).__name__}: {stats}"[:120], "", "", "")
            continue
        age = humanize(timedelta(seconds=stats.oldest_pending_age_seconds)) if stats.pending else "-"
        failed = f"[red]{stats.failed}[/]" if stats.failed else "0"
        table.add_row(name, str(stats.pending), age, failed, str(stats.sent))
    console.print(table)


@outbox_app.command("failed")
def outbox_failed(
    service: Annotated[list[str] | None, typer.Option(help="repeatable")] = None,
    limit: int = 100,
) -> None:
    """Rows the relay gave up on, with the error it recorded."""
    admin = _outbox_admin()
    results = _per_service(_database_urls(service), lambda engine: admin.list_failed(engine, limit=limit))
    table = Table(title="failed outbox rows")
    for column in ("service", "row", "message id", "type", "exchange", "attempts", "error", "created"):
        table.add_column(column)
    for name, rows in results.items():
        if isinstance(rows, Exception):
            table.add_row(name, "-", "-", "-", "-", "-", f"[red]{type(rows).__name__}: {rows}"[:120], "-")
            continue
        for row in rows:
            table.add_row(
                name,
                str(row.id),
                row.message_id,
                row.message_type,
                row.exchange,
                str(row.attempts),
                row.last_error or "-",
                row.created_at.isoformat(timespec="seconds"),
            )
    console.print(table)


@outbox_app.command("retry")
def outbox_retry(
    service: str,
    row_id: Annotated[int | None, typer.Argument(help="the failed row; omit with --all")] = None,
    retry_all: Annotated[bool, typer.Option("--all", help="every failed row of the service")] = False,
) -> None:
    """Put a failed row (or all of a service's) back to pending: the relay publishes it again."""
    if (row_id is None) == (not retry_all):
        raise fail("give a row id or --all (not both)")
    admin = _outbox_admin()
    urls = _database_urls([service])
    result = _per_service(urls, lambda engine: admin.retry_failed(engine, row_id))[service]
    if isinstance(result, Exception):
        raise fail(f"{service}: {type(result).__name__}: {result}")
    if result == 0:
        raise fail(
            f"no failed row {row_id} in {service}'s outbox" if row_id is not None else "no failed rows", 1
        )
    console.print(f"{result} row(s) of {service} back to pending")
