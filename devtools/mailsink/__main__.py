"""``python -m mailsink``: SMTP on 127.0.0.1:1025, JSON on http://127.0.0.1:8025/messages."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path

from mailsink.server import MailSink


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m mailsink", description=__doc__)
    parser.add_argument("--host", default=env("MAILSINK_HOST", "127.0.0.1"))
    parser.add_argument("--smtp-port", type=int, default=int(env("MAILSINK_SMTP_PORT", "1025")))
    parser.add_argument("--http-port", type=int, default=int(env("MAILSINK_HTTP_PORT", "8025")))
    parser.add_argument("--directory", type=Path, default=Path(env("MAILSINK_DIRECTORY", "var/mailsink")))
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    sink = MailSink(args.directory, host=args.host, smtp_port=args.smtp_port, http_port=args.http_port)
    await sink.start()
    print(
        f"mail sink: SMTP {sink.host}:{sink.smtp_port}, messages at {sink.http_url}/messages "
        f"(stored in {args.directory})",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sink.stop()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
