"""A consumer process for the shutdown and crash tests: ``python messaging_worker.py <amqp_url> <mode> <log>``.

mode ``graceful``: handlers of even entries finish once SIGTERM arrived, odd ones never finish on their own;
SIGTERM stops the consumer with a 2 s grace period.
mode ``crash``: the handler kills the process (``os._exit``) as a segfaulting library would.
Every handler start and finish is appended to the log file, one line each.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import ClassVar

from shared.contracts.base import Event
from shared.messaging.connection import connect
from shared.messaging.consumer import Consumer
from shared.messaging.envelope import Envelope
from shared.messaging.topology import Topology, handler_queue


class EntryPosted(Event):
    message_type: ClassVar[str] = "books.entry_posted.v1"
    producer: ClassVar[str] = "books"

    entry: int


LEDGER = Topology(
    "ledger",
    publishes=False,
    queues=(
        handler_queue(
            "ledger", "on_entry", [("books.events", "books.entry_posted")], delivery_limit=2, prefetch=10
        ),
    ),
)


async def main(url: str, mode: str, log_path: str) -> None:
    terminated = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, terminated.set)

    def log(line: str) -> None:
        with open(log_path, "a") as file:
            file.write(line + "\n")

    async def handle(message: EntryPosted, envelope: Envelope) -> None:
        log(f"start {message.entry}")
        if mode == "crash":
            os._exit(3)
        if message.entry % 2 == 0:
            await terminated.wait()  # in flight when SIGTERM arrives, finishes within the grace period
            await asyncio.sleep(0.1)
        else:
            await asyncio.sleep(3600)  # outlives any grace period
        log(f"done {message.entry}")

    connection = await connect(url, connection_name=f"ledger-worker-{os.getpid()}")
    consumer = Consumer(connection, LEDGER)
    consumer.register("on_entry", handle, accepts=[EntryPosted])
    await consumer.start()
    log("ready")
    await terminated.wait()
    log(f"stopping in_flight={consumer.in_flight()}")
    await consumer.stop(grace_seconds=2)
    await connection.close()
    log("stopped")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
