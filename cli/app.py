"""The ``warren`` command: ``setup``, ``urls``, ``definitions``, ``dlq ...``, ``outbox ...``, ``topology ...``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import aio_pika
import aiormq
import httpx
import typer
from rich.console import Console
from rich.table import Table

from warrenctl import broker_setup, deadletters, demo, drift, outbox
from warrenctl.access import SERVICES, VHOST, all_accounts
from warrenctl.broker_admin import BrokerAdmin, BrokerRefused, BrokerUnreachable
from warrenctl.durations import humanize, parse_duration
from warrenctl.runenv import SERVICE_PORTS, run_environment, write_env_file
from warrenctl.settings import RUN_ENV_FILE, CliSettings

T = TypeVar("T")

app = typer.Typer(help="Operate Warren: broker set-up, dead letters, outbox, topology.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead-letter queues: list, show, replay, purge.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
outbox_app = typer.Typer(help="Transactional outboxes: pending, failed, retry.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
topology_app = typer.Typer(help="Declared topology against the broker.", no_args_is_help=True)
app.add_typer(topology_app, name="topology")
console = Console()
err = Console(stderr=True, soft_wrap=True)

START_RABBITMQ = (
    "RabbitMQ is not reachable. Start one, then run this again:\n"
    "  on this machine:   rabbitmq-server -detached && rabbitmq-plugins enable rabbitmq_management\n"
    "  or in Docker:      docker compose up -d rabbitmq\n"
    "(`scripts/ensure-infra rabbitmq` does the first for you when rabbitmq-server is installed.)"
)


def _settings() -> CliSettings:
    return CliSettings()


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def _run(work: Callable[[aio_pika.abc.AbstractConnection], Awaitable[T]]) -> T:
    """Open the operator's AMQP connection, run ``work`` with it, close it; readable errors, no tracebacks."""
    settings = _settings()

    async def main() -> T:
        try:
            connection = await aio_pika.connect(settings.amqp_url, timeout=10)
        except (ConnectionError, OSError, aio_pika.exceptions.AMQPConnectionError) as exc:
            raise _fail(f"{START_RABBITMQ}\n({type(exc).__name__}: {exc})") from exc
        try:
            return await work(connection)
        finally:
            await connection.close()

    try:
        return asyncio.run(main())
    except aio_pika.exceptions.ChannelNotFoundEntity as exc:
        raise _fail(f"no such queue: {exc}") from exc
    except aiormq.exceptions.ChannelAccessRefused as exc:
        raise _fail(f"the broker refused: {exc}") from exc


def _admin() -> BrokerAdmin:
    s = _settings()
    return BrokerAdmin(s.management_url, s.management_user, s.management_password)


@app.command()
def setup(
    admin_url: Annotated[str, typer.Option(envvar="RABBITMQ_ADMIN_URL")] = "http://127.0.0.1:15672",
    admin_user: Annotated[str, typer.Option(envvar="RABBITMQ_ADMIN_USER")] = "guest",
    admin_password: Annotated[str, typer.Option(envvar="RABBITMQ_ADMIN_PASSWORD")] = "guest",
    amqp_host: Annotated[str, typer.Option(envvar="RABBITMQ_AMQP_HOST")] = "127.0.0.1:5672",
    vhost: str = VHOST,
    secrets_dir: Path = Path("var/secrets"),
    data_dir: Path = Path("var/data"),
) -> None:
    """Create the vhost, one user per service (passwords generated into var/secrets), permissions, policies
    and exchanges; write the environment file every process of `make run` starts with."""
    passwords = broker_setup.load_or_create_passwords(
        secrets_dir / "rabbitmq.json", [a.user for a in all_accounts()]
    )
    try:
        with BrokerAdmin(admin_url, admin_user, admin_password) as admin:
            admin.overview()
            accounts = broker_setup.apply(admin, passwords, vhost=vhost)
    except BrokerUnreachable as exc:
        raise _fail(f"{START_RABBITMQ}\n({exc})") from exc
    except BrokerRefused as exc:
        raise _fail(f"{exc}\nSet RABBITMQ_ADMIN_USER / RABBITMQ_ADMIN_PASSWORD to an administrator.") from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    env = run_environment(
        passwords, data_dir=data_dir, amqp_host=amqp_host, management_url=admin_url, vhost=vhost
    )
    write_env_file(secrets_dir / "run.env", env)
    console.print(
        f"broker ready: vhost [bold]{vhost}[/], users {', '.join(a.user for a in accounts)}; "
        f"credentials in {secrets_dir}/ (not in git)"
    )


@app.command()
def urls() -> None:
    """Print where everything of a running `make run` is."""
    s = _settings()
    table = Table(title="Warren is running", show_header=True)
    table.add_column("what")
    table.add_column("where")
    table.add_row("payment API", f"http://127.0.0.1:{SERVICE_PORTS['payment']}/payments")
    table.add_row("payment API docs", f"http://127.0.0.1:{SERVICE_PORTS['payment']}/docs")
    table.add_row("inventory API docs", f"http://127.0.0.1:{SERVICE_PORTS['inventory']}/docs")
    for service, port in SERVICE_PORTS.items():
        table.add_row(f"{service} metrics", f"http://127.0.0.1:{port}/metrics")
    table.add_row(
        "RabbitMQ management UI", f"{s.management_url}/#/queues/{s.vhost}  (user {s.management_user})"
    )
    table.add_row("mail sink (emails sent)", "http://127.0.0.1:8025/messages")
    table.add_row("gateway sandbox", "http://127.0.0.1:8090")
    table.add_row("operator CLI", "warren dlq list | warren outbox status | warren topology drift")
    console.print(table)
    console.print(f"management UI password: see {Path('var/secrets/run.env')} (WARREN_MANAGEMENT_PASSWORD)")


@app.command()
def definitions(
    from_env: Annotated[
        bool, typer.Option("--from-env", help="fill password hashes from RABBITMQ_<USER>_PASSWORD")
    ] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Render the broker model as a RabbitMQ definitions file (placeholders, or hashes from the environment)."""
    try:
        document = broker_setup.definitions_from_environment() if from_env else broker_setup.definitions()
    except KeyError as exc:
        raise _fail(str(exc.args[0])) from exc
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)


@app.command("compose-env")
def compose_env(
    output: Annotated[Path, typer.Option("--output", "-o")] = Path(".env"),
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
) -> None:
    """Write the .env docker compose reads: fresh random passwords for every broker user and PostgreSQL."""
    if output.exists() and not force:
        raise _fail(f"{output} exists; keep it (its passwords are in use) or pass --force")
    users = [broker_setup.ADMIN_USER] + [a.user for a in all_accounts()]
    env = {broker_setup.password_env_name(user): broker_setup.generate_password() for user in users}
    env["POSTGRES_PASSWORD"] = broker_setup.generate_password()
    write_env_file(output, env)
    console.print(f"wrote {output} (mode 0600; never commit it)")


# ---- dead letters ---------------------------------------------------------------------------------------


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
        raise _fail(str(exc)) from exc


def _dead_letter_queues(queue: str | None) -> list[dict[str, Any]]:
    s = _settings()
    try:
        with _admin() as admin:
            queues = admin.queues(s.vhost)
    except (BrokerUnreachable, BrokerRefused) as exc:
        raise _fail(f"{START_RABBITMQ}\n({exc})" if isinstance(exc, BrokerUnreachable) else str(exc)) from exc
    found = [q for q in queues if q["name"].endswith(deadletters.DLQ_SUFFIX)]
    if queue is not None:
        found = [q for q in found if q["name"] == queue]
        if not found:
            raise _fail(f"no dead-letter queue {queue!r} in vhost {s.vhost!r}")
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
    summary = Table(title=f"dead-letter queues in {_settings().vhost}")
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

    _run(work)


@dlq_app.command("show")
def dlq_show(queue: str, message_id: str) -> None:
    """One dead letter in full: properties, headers and body."""

    async def work(connection: aio_pika.abc.AbstractConnection) -> deadletters.DeadLetter | None:
        for letter in await deadletters.read(connection, queue, limit=None):
            if letter.message_id == message_id:
                return letter
        return None

    letter = _run(work)
    if letter is None:
        raise _fail(f"no message {message_id} in {queue}")
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
        raise _fail("say which messages: --id, --type, --reason, --older-than, --newer-than, or --all")

    def progress(letter: deadletters.DeadLetter) -> None:
        console.print(f"replayed {letter.message_id} ({letter.type}) -> {letter.original_queue}")

    replayed = _run(lambda connection: deadletters.replay(connection, queue, selection, on_replayed=progress))
    console.print(f"[bold]{len(replayed)}[/] message(s) replayed from {queue}")


@dlq_app.command("purge")
def dlq_purge(
    queue: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    """Delete every message of a dead-letter queue (asks first)."""
    if not queue.endswith(deadletters.DLQ_SUFFIX):
        raise _fail(f"{queue} is not a dead-letter queue (name must end with {deadletters.DLQ_SUFFIX})")
    depth = _dead_letter_queues(queue)[0].get("messages", 0)
    if not yes and not typer.confirm(f"Delete all {depth} message(s) of {queue}? This cannot be undone"):
        raise typer.Exit(1)
    count = _run(lambda connection: deadletters.purge(connection, queue))
    console.print(f"purged {count} message(s) from {queue}")


# ---- demo ------------------------------------------------------------------------------------------------


@app.command("demo")
def run_demo(
    payment_url: Annotated[str, typer.Option(envvar="DEMO_PAYMENT_URL")] = demo.Endpoints.payment,
    inventory_url: Annotated[str, typer.Option(envvar="DEMO_INVENTORY_URL")] = demo.Endpoints.inventory,
    mailsink_url: Annotated[str, typer.Option(envvar="DEMO_MAILSINK_URL")] = demo.Endpoints.mailsink,
    timeout: Annotated[float, typer.Option(help="seconds to wait for each payment's outcome")] = 90.0,
) -> None:
    """Seed stock, drive checkouts through every outcome against a running `make run`, show the results."""
    endpoints = demo.Endpoints(payment_url, inventory_url, mailsink_url)

    async def main() -> tuple[list[demo.Scenario], list[dict[str, Any]]]:
        async with httpx.AsyncClient(timeout=10) as client:
            driver = demo.Demo(client, endpoints, lambda line: console.log(line), timeout=timeout)
            down = await driver.check_reachable()
            if down:
                raise _fail(f"not answering: {', '.join(down)}. Start the suite first: make run")
            items = await driver.run()
            return items, await driver.emails(items)

    items, emails = asyncio.run(main())
    outcomes = Table(title="checkouts")
    for column in ("scenario", "payment", "expected", "final status", "reason", "ok"):
        outcomes.add_column(column)
    for item in items:
        ok = "[green]yes[/]" if item.status == item.expected else "[red]no[/]"
        outcomes.add_row(
            item.name, item.payment_id or "-", item.expected, item.status, item.reason or "-", ok
        )
    console.print(outcomes)
    sent = Table(title=f"emails received by the mail sink ({endpoints.mailsink}/messages)")
    sent.add_column("to")
    sent.add_column("subject")
    for message in emails:
        sent.add_row(", ".join(message.get("rcpt_to", [])), str(message.get("subject")))
    console.print(sent)
    if any(item.status != item.expected for item in items):
        raise typer.Exit(1)


# ---- outbox ----------------------------------------------------------------------------------------------


def _database_urls(service: list[str] | None) -> dict[str, str]:
    urls = outbox.database_urls(service or SERVICES, RUN_ENV_FILE)
    if not urls:
        raise _fail(
            f"no <SERVICE>_DATABASE_URL set and no {RUN_ENV_FILE}; run `make run` once or export them"
        )
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
    admin = outbox.admin()
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
    admin = outbox.admin()
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
        raise _fail("give a row id or --all (not both)")
    admin = outbox.admin()
    urls = _database_urls([service])
    result = _per_service(urls, lambda engine: admin.retry_failed(engine, row_id))[service]
    if isinstance(result, Exception):
        raise _fail(f"{service}: {type(result).__name__}: {result}")
    if result == 0:
        raise _fail(
            f"no failed row {row_id} in {service}'s outbox" if row_id is not None else "no failed rows", 1
        )
    console.print(f"{result} row(s) of {service} back to pending")


# ---- topology --------------------------------------------------------------------------------------------


@topology_app.command("drift")
def topology_drift(
    service: Annotated[list[str] | None, typer.Option(help="only this service (repeatable)")] = None,
) -> None:
    """Compare each service's declared topology with the broker; exit 1 when they differ."""
    topologies = drift.load_topologies(service or SERVICES)
    if not topologies:
        raise _fail("no service topology is installed (python -m <service> must be importable)")
    expected = drift.expected_from_topologies(topologies)
    s = _settings()
    try:
        with _admin() as admin:
            drifts = drift.compare(
                expected, admin.exchanges(s.vhost), admin.queues(s.vhost), admin.bindings(s.vhost)
            )
    except BrokerUnreachable as exc:
        raise _fail(f"{START_RABBITMQ}\n({exc})") from exc
    except BrokerRefused as exc:
        raise _fail(str(exc)) from exc
    checked = ", ".join(sorted(topologies))
    if not drifts:
        console.print(f"[green]no drift[/]: {checked} match the broker (vhost {s.vhost})")
        return
    table = Table(title=f"topology drift in {s.vhost} ({checked})")
    for column in ("drift", "entity", "name", "detail"):
        table.add_column(column)
    for item in drifts:
        table.add_row(item.kind, item.entity, item.name, item.detail)
    console.print(table)
    raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    app()
