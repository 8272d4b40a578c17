"""The runtime as a real process: graceful shutdown on SIGTERM, and the broker's delivery-limit backstop."""

from __future__ import annotations

import asyncio
import importlib.util
import signal
import sys
from pathlib import Path

import pytest

from shared.messaging.connection import confirm_channel, connect
from shared.messaging.declare import declare
from shared.messaging.envelope import Envelope
from shared.messaging.failure import describe_dead_letter
from shared.messaging.publisher import Publisher
from shared.messaging.topology import Topology
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration

WORKER = Path(__file__).with_name("messaging_worker.py")


def lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


async def spawn(amqp_url: str, mode: str, log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, str(WORKER), amqp_url, mode, str(log))


async def declare_and_publish(amqp_url: str, entries: range) -> None:
    # The worker script is not in a package: load its module to declare exactly its topology.
    spec = importlib.util.spec_from_file_location("messaging_worker", WORKER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ledger = module.LEDGER
    assert isinstance(ledger, Topology)
    connection = await connect(amqp_url, connection_name="books")
    async with connection:
        await declare(connection, ledger)
        publisher = Publisher(await confirm_channel(connection))
        for entry in entries:
            await publisher.publish(
                "books.events",
                Envelope(
                    type="books.entry_posted.v1",
                    correlation_id=f"e{entry}",
                    producer="books",
                    payload={"entry": entry},
                ),
            )


async def queue_messages(amqp_url: str, queue: str) -> list[tuple[bytes, dict[str, object], bool]]:
    connection = await connect(amqp_url, connection_name="probe")
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        found = []
        while (message := await declared.get(fail=False)) is not None:
            found.append((message.body, dict(message.headers or {}), message.redelivered))
        # Left unacked on purpose: closing the channel puts them back.
        return found


async def test_in_flight_messages_finish_or_return_when_process_gets_sigterm(
    amqp_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    await declare_and_publish(amqp_url, range(4))
    worker = await spawn(amqp_url, "graceful", log)
    try:
        await wait_for(lambda: sum(line.startswith("start") for line in lines(log)) == 4, timeout=30)
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), timeout=20) == 0
    finally:
        if worker.returncode is None:
            worker.kill()
    written = lines(log)
    assert "stopping in_flight=4" in written
    assert sorted(line for line in written if line.startswith("done")) == ["done 0", "done 2"]
    assert written[-1] == "stopped"
    # The two that finished were acked; the two cut off at the deadline wait for the next consumer.
    left = await queue_messages(amqp_url, "ledger.on_entry")
    assert sorted(body for body, _, _ in left) == [b'{"entry":1}', b'{"entry":3}']
    assert all(redelivered for _, _, redelivered in left)


async def test_message_is_dead_lettered_by_the_broker_when_handler_keeps_crashing_the_process(
    amqp_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    await declare_and_publish(amqp_url, range(1))
    runs = 0
    while not await queue_messages(amqp_url, "ledger.on_entry.dlq"):
        assert runs < 5, "the broker never dead-lettered the poison message"
        worker = await spawn(amqp_url, "crash", log)
        assert await asyncio.wait_for(worker.wait(), timeout=30) == 3  # os._exit inside the handler
        runs += 1
    # delivery_limit=2: the first delivery and two redeliveries crashed, then the broker gave up.
    assert runs == 3
    assert lines(log).count("start 0") == 3
    [(body, headers, _)] = await queue_messages(amqp_url, "ledger.on_entry.dlq")
    assert body == b'{"entry":0}'
    record = describe_dead_letter(headers)
    assert record.failure == "delivery-limit"
    assert record.original_queue == "ledger.on_entry"
    assert record.original_routing_key == "books.entry_posted"
    assert await queue_messages(amqp_url, "ledger.on_entry") == []
