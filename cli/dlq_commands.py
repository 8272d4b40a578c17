"""``warren dlq``: dead-letter queues listed, shown, replayed to where they failed, purged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import aio_pika
import typer
from rich.table import Table

from warrenctl import deadletters
from warrenctl.broker_admin import BrokerRefused, BrokerUnreachable
from warrenctl.durations import humanize, parse_duration
from warrenctl.terminal import START_RABBITMQ, console, fail, management, run_amqp, settings

dlq_app = typer.Typer(help="Dead-letter queues: list, show, replay, purge.", no_args_is_help=True)


def _selection(
    message_ids: list[str] | None,
    type_pattern: str | None,
    reason: str | None,
    older: str | None,
    newer: str | None,
) -> deadletters.Selection:
    try:
        return deadletters.Selection(
            message_ids=frozenset(message_ids or ()),
            type_pattern=type_pattern,
            reason=reason,
            older_than=parse_duration(older) if older else None,
            newer_than=parse_duration(newer) if newer else None,
        )
    except ValueError as exc:
        raise fail(str(exc)) from exc


def _dead_letter_queues(queue: str | None) -> list[dict[str, Any]]:
    s = settings()
    try:
        with management() as admin:
            queues = admin.queues(s.vhost)
    except (BrokerUnreachable, BrokerRefused) as exc:
        raise fail(f"{START_RABBITMQ}\n({exc})" if isinstance(exc, BrokerUnreachable) else str(exc)) from exc
    found = [q for q in queues if q["name"].endswith(deadletters.DLQ_SUFFIX)]
    if queue is not None:
        found = [q for q in found if q["name"] == queue]
        if not found:
            raise fail(f"no dead-letter queue {queue!r} in vhost {s.vhost!r}")
    return sorted(found, key=lambda q: str(q["name"]))


def _letters_table(title: str, letters: list[deadletters.DeadLetter]) -> Table:
    now = datetime.now(UTC)
    table = Table(title=title)
    for column in ("message id", "type", "reason", "failure", "attempts", "age", "back to"):
        table.add_column(column)
    for letter in letters:
        age = letter.age(now)
        table.add_row(
            letter.message_id or "-",
            letter.type or "-",
            letter.reason,
            letter.failure or "-",
            "-" if letter.attempts is None else str(letter.attempts),
            "-" if age is None else humanize(age),
            letter.original_queue,
        )
    return table


@dlq_app.command("list")
def dlq_list(
    queue: Annotated[str | None, typer.Argument(help="one dead-letter queue; default every one")] = None,
    limit: Annotated[int, typer.Option(help="messages shown per queue")] = 20,
) -> None:
    """Every dead-letter queue with its depth, then its messages: reason, attempts, age."""
    queues = _dead_letter_queues(queue)
    summary = Table(title=f"dead-letter queues in {settings().vhost}")
    summary.add_column("queue")
    summary.add_column("messages", justify="right")
    for q in queues:
        summary.add_row(q["name"], str(q.get("messages", 0)))
    console.print(summary)

    async def work(connection: aio_pika.abc.AbstractConnection) -> None:
        for q in queues:
            letters = await deadletters.read(connection, q["name"], limit=limit)
            if letters:
                console.print(_letters_table(q["name"], letters))

    run_amqp(work)


@dlq_app.command("show")
def dlq_show(queue: str, message_id: str) -> None:
    """One dead letter in full: properties, headers and body."""

    async def work(connection: aio_pika.abc.AbstractConnection) -> deadletters.DeadLetter | None:
        for letter in await deadletters.read(connection, queue, limit=None):
            if letter.message_id == message_id:
                return letter
        return None

    letter = run_amqp(work)
    if letter is None:
        raise fail(f"no message {message_id} in {queue}")
    console.print(_letters_table(queue, [letter]))
    console.print_json(data={"properties": letter.properties, "headers": letter.headers}, default=str)
    try:
        console.print_json(letter.body.decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        console.print(repr(letter.body))


@dlq_app.command("replay")
def dlq_replay(
    queue: str,
    message_id: Annotated[list[str] | None, typer.Option("--id", help="a message id (repeatable)")] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="every message of the queue")] = False,
    type_pattern: Annotated[str | None, typer.Option("--type", help="message type glob")] = None,
    reason: Annotated[str | None, typer.Option(help="reason contains this text")] = None,
    older_than: Annotated[str | None, typer.Option(help="dead-lettered longer ago than e.g. 10m")] = None,
    newer_than: Annotated[str | None, typer.Option(help="dead-lettered within e.g. 1h")] = None,
) -> None:
    """Publish dead letters back to the queue they failed in, keeping their message ids."""
    selection = _selection(message_id, type_pattern, reason, older_than, newer_than)
    if selection == deadletters.Selection() and not replay_all:
        raise fail("say which messages: --id, --type, --reason, --older-than, --newer-than, or --all")

    def progress(letter: deadletters.DeadLetter) -> None:
        console.print(f"replayed {letter.message_id} ({letter.type}) -> {letter.original_queue}")

    replayed = run_amqp(
        lambda connection: deadletters.replay(connection, queue, selection, on_replayed=progress)
    )
    console.print(f"[bold]{len(replayed)}[/] message(s) replayed from {queue}")


@dlq_app.command("purge")
def dlq_purge(
    queue: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    """Delete every message of a dead-letter queue (asks first)."""
    if not queue.endswith(deadletters.DLQ_SUFFIX):
        raise fail(f"{queue} is not a dead-letter queue (name must end with {deadletters.DLQ_SUFFIX})")
    depth = _dead_letter_queues(queue)[0].get("messages", 0)
    if not yes and not typer.confirm(f"Delete all {depth} message(s) of {queue}? This cannot be undone"):
        raise typer.Exit(1)
    count = run_amqp(lambda connection: deadletters.purge(connection, queue))
    console.print(f"purged {count} message(s) from {queue}")
