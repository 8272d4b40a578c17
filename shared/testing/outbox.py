"""A tiny aggregate, unit of work and processes for testing the outbox, the inbox and their relay for real.

``python -m shared.testing.outbox relay --database URL --amqp URL`` runs one relay until SIGTERM (the fault tests
start, kill and restart it); ``... produce`` commits probe events. Service tests may reuse :func:`create_tables`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from sqlalchemy import Column, Integer, String, Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.contracts.base import Event
from shared.messaging.connection import connect
from shared.outbox.relay import OutboxRelay, RelaySettings
from shared.persistence.engine import create_engine
from shared.persistence.metadata import PLATFORM_METADATA, new_metadata
from shared.persistence.repository import TrackingRepository
from shared.persistence.unit_of_work import SqlUnitOfWork

PROBE_METADATA = new_metadata()
PROBE_EXCHANGE = "probe.events"

probes = Table(
    "probes",
    PROBE_METADATA,
    Column("id", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),
)
# What a consumer did: one row per (probe, seq) with how many times the effect was applied.
probe_effects = Table(
    "probe_effects",
    PROBE_METADATA,
    Column("probe_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("applied", Integer, nullable=False),
)

# Built once, like a service's statements: only the parameters change, so the compiled cache serves every call.
_PROBE_FOR_UPDATE = select(probes.c.seq).where(probes.c.id == bindparam("probe_id")).with_for_update()
_INSERT_PROBE = probes.insert()
_UPDATE_PROBE = update(probes).where(probes.c.id == bindparam("b_id")).values(seq=bindparam("seq"))


class ProbeHappened(Event):
    """Test-only fact: probe ``probe_id`` reached ``seq``."""

    message_type: ClassVar[str] = "probe.happened.v1"
    producer: ClassVar[str] = "probe"

    probe_id: str
    seq: int
    padding: str = ""


@dataclass
class Probe:
    """An aggregate whose every change records a numbered event, so order and loss are easy to check."""

    id: str
    seq: int = 0
    events: list[Event] = field(default_factory=list)
    new: bool = False

    def bump(self, padding: str = "") -> None:
        self.seq += 1
        self.events.append(ProbeHappened(probe_id=self.id, seq=self.seq, padding=padding))


class ProbeRepository(TrackingRepository[Probe]):
    async def get(self, probe_id: str) -> Probe | None:
        if probe_id in self.seen:
            return self.seen[probe_id]
        seq = (await self.connection.execute(_PROBE_FOR_UPDATE, {"probe_id": probe_id})).scalar()
        return None if seq is None else self.track(Probe(probe_id, seq))

    async def get_or_add(self, probe_id: str) -> Probe:
        probe = await self.get(probe_id)
        return probe if probe is not None else self.track(Probe(probe_id, new=True))

    async def flush(self) -> None:
        for probe in self.seen.values():
            if probe.new:
                await self.connection.execute(_INSERT_PROBE, {"id": probe.id, "seq": probe.seq})
                probe.new = False
            else:
                await self.connection.execute(_UPDATE_PROBE, {"b_id": probe.id, "seq": probe.seq})


class ProbeUnitOfWork(SqlUnitOfWork):
    probes: ProbeRepository

    def __init__(self, engine: AsyncEngine, **kwargs: Any) -> None:
        super().__init__(engine, producer="probe", **kwargs)

    def start_repositories(self, connection: AsyncConnection) -> None:
        self.probes = ProbeRepository(connection)

    async def flush_state(self) -> None:
        await self.probes.flush()


async def create_tables(engine: AsyncEngine, *, probe_tables: bool = True) -> None:
    """Create the outbox/inbox tables (and the probe tables) without alembic, for tests."""
    async with engine.begin() as connection:
        await connection.run_sync(PLATFORM_METADATA.create_all)
        if probe_tables:
            await connection.run_sync(PROBE_METADATA.create_all)


async def bump(engine: AsyncEngine, probe_id: str, times: int = 1) -> None:
    """Commit ``times`` events for ``probe_id``, one unit of work each."""
    for _ in range(times):
        async with ProbeUnitOfWork(engine) as uow:
            probe = await uow.probes.get_or_add(probe_id)
            probe.bump()
            await uow.commit()


async def _relay(database: str, amqp: str, poll: float, lease_ttl: float, batch_size: int) -> None:
    logging.basicConfig(level=logging.INFO)
    engine = create_engine(database)
    connection = await connect(amqp, connection_name="probe-relay", reconnect_interval=0.5)
    settings = RelaySettings(
        poll_interval=poll, lease_ttl=timedelta(seconds=lease_ttl), backoff_max=1.0, batch_size=batch_size
    )
    relay = OutboxRelay(engine, connection, settings=settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await relay.start()
    print("relay started", flush=True)
    await stopping.wait()
    await relay.stop()
    await connection.close()
    await engine.dispose()


async def _produce(database: str, aggregates: int, events: int) -> None:
    engine = create_engine(database)
    for n in range(events):
        for a in range(aggregates):
            await bump(engine, f"probe-{a}")
        del n
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.testing.outbox")
    commands = parser.add_subparsers(dest="command", required=True)
    relay = commands.add_parser("relay")
    relay.add_argument("--database", required=True)
    relay.add_argument("--amqp", required=True)
    relay.add_argument("--poll", type=float, default=0.2)
    relay.add_argument("--lease-ttl", type=float, default=2.0)
    relay.add_argument("--batch-size", type=int, default=500)
    produce = commands.add_parser("produce")
    produce.add_argument("--database", required=True)
    produce.add_argument("--aggregates", type=int, default=3)
    produce.add_argument("--events", type=int, default=5)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        if args.command == "relay":
            asyncio.run(_relay(args.database, args.amqp, args.poll, args.lease_ttl, args.batch_size))
        else:
            asyncio.run(_produce(args.database, args.aggregates, args.events))


if __name__ == "__main__":
    main()
