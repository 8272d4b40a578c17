"""``warren breakers`` and ``warren topology drift``: is anything open, is the broker as declared."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from warrenctl import breakers as breaker_metrics
from warrenctl import drift
from warrenctl.access import SERVICES
from warrenctl.broker_admin import BrokerRefused, BrokerUnreachable
from warrenctl.runenv import SERVICE_PORTS
from warrenctl.terminal import START_RABBITMQ, console, fail, management, settings

topology_app = typer.Typer(help="Declared topology against the broker.", no_args_is_help=True)


def breakers(host: str = "127.0.0.1") -> None:
    """Circuit breaker state per dependency and handlers paused by an open breaker, from each /metrics."""
    urls = {service: f"http://{host}:{port}/metrics" for service, port in SERVICE_PORTS.items()}
    readings, errors = breaker_metrics.scrape(urls)
    table = Table(title="circuit breakers")
    for column in ("service", "kind", "name", "state"):
        table.add_column(column)
    colours = {"open": "red", "paused": "red", "half-open": "yellow"}
    for reading in readings:
        colour = colours.get(reading.state, "green")
        table.add_row(reading.service, reading.kind, reading.name, f"[{colour}]{reading.state}[/]")
    for service, error in errors.items():
        table.add_row(service, "-", "-", f"[red]unreachable: {error}"[:100])
    console.print(table)
    if any(r.state in {"open", "paused"} for r in readings):
        raise typer.Exit(1)


@topology_app.command("drift")
def topology_drift(
    service: Annotated[list[str] | None, typer.Option(help="only this service (repeatable)")] = None,
) -> None:
    """Compare each service's declared topology with the broker; exit 1 when they differ."""
    topologies = drift.load_topologies(service or SERVICES)
    if not topologies:
        raise fail("no service topology is installed (python -m <service> must be importable)")
    expected = drift.expected_from_topologies(topologies)
    s = settings()
    try:
        with management() as admin:
            drifts = drift.compare(
                expected, admin.exchanges(s.vhost), admin.queues(s.vhost), admin.bindings(s.vhost)
            )
    except BrokerUnreachable as exc:
        raise fail(f"{START_RABBITMQ}\n({exc})") from exc
    except BrokerRefused as exc:
        raise fail(str(exc)) from exc
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
