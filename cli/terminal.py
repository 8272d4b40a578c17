"""What every ``warren`` command shares: the consoles, a readable failure, the broker connections."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aio_pika
import aiormq
import typer
from rich.console import Console

from warrenctl.broker_admin import BrokerAdmin
from warrenctl.settings import CliSettings

T = TypeVar("T")

console = Console()
err = Console(stderr=True, soft_wrap=True)

START_RABBITMQ = (
    "RabbitMQ is not reachable. Start one, then run this again:\n"
    "  on this machine:   rabbitmq-server -detached && rabbitmq-plugins enable rabbitmq_management\n"
    "  or in Docker:      docker compose up -d rabbitmq\n"
    "(`scripts/ensure-infra rabbitmq` does the first for you when rabbitmq-server is installed.)"
)


def settings() -> CliSettings:
    return CliSettings()


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def run_amqp(work: Callable[[aio_pika.abc.AbstractConnection], Awaitable[T]]) -> T:
    """Open the operator's AMQP connection, run ``work`` with it, close it; readable errors, no tracebacks."""
    url = settings().amqp_url

    async def main() -> T:
        try:
            connection = await aio_pika.connect(url, timeout=10)
        except (ConnectionError, OSError, aio_pika.exceptions.AMQPConnectionError) as exc:
            raise fail(f"{START_RABBITMQ}\n({type(exc).__name__}: {exc})") from exc
        try:
            return await work(connection)
        finally:
            await connection.close()

    try:
        return asyncio.run(main())
    except aio_pika.exceptions.ChannelNotFoundEntity as exc:
        raise fail(f"no such queue: {exc}") from exc
    except aiormq.exceptions.ChannelAccessRefused as exc:
        raise fail(f"the broker refused: {exc}") from exc


def management() -> BrokerAdmin:
    s = settings()
    return BrokerAdmin(s.management_url, s.management_user, s.management_password)
