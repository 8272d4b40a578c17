"""``warren demo``: every outcome driven through the running suite, results in tables."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from warrenctl import demo
from warrenctl.terminal import console, fail


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
                raise fail(f"not answering: {', '.join(down)}. Start the suite first: make run")
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
