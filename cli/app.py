"""The ``warren`` command: set-up (``setup``, ``definitions``, ``compose-env``, ``urls``) and, from the
modules next to this one, ``dlq``, ``outbox``, ``topology``, ``breakers`` and ``demo``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from warrenctl import broker_setup
from warrenctl.access import VHOST, all_accounts
from warrenctl.broker_admin import BrokerAdmin, BrokerRefused, BrokerUnreachable
from warrenctl.demo_command import run_demo
from warrenctl.dlq_commands import dlq_app
from warrenctl.inspect_commands import breakers, topology_app
from warrenctl.outbox_commands import outbox_app
from warrenctl.runenv import SERVICE_PORTS, run_environment, write_env_file
from warrenctl.terminal import START_RABBITMQ, console, fail, settings

app = typer.Typer(help="Operate Warren: broker set-up, dead letters, outbox, topology.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
app.add_typer(outbox_app, name="outbox")
app.add_typer(topology_app, name="topology")
app.command("demo")(run_demo)
app.command("breakers")(breakers)


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
        raise fail(f"{START_RABBITMQ}\n({exc})") from exc
    except BrokerRefused as exc:
        raise fail(f"{exc}\nSet RABBITMQ_ADMIN_USER / RABBITMQ_ADMIN_PASSWORD to an administrator.") from exc
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
    s = settings()
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
        raise fail(str(exc.args[0])) from exc
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
        raise fail(f"{output} exists; keep it (its passwords are in use) or pass --force")
    users = [broker_setup.ADMIN_USER] + [a.user for a in all_accounts()]
    env = {broker_setup.password_env_name(user): broker_setup.generate_password() for user in users}
    env["POSTGRES_PASSWORD"] = broker_setup.generate_password()
    write_env_file(output, env)
    console.print(f"wrote {output} (mode 0600; never commit it)")


def main() -> None:
    """Console-script entry point."""
    app()
