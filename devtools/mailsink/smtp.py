"""The SMTP side: accept everything except recipients in the reserved ``.invalid`` domain (RFC 2606).

A message counts as received only once its ``250`` reply is due: if the client's connection drops while the
handler runs (a sender killed mid-DATA), aiosmtpd cancels the handler and nothing is stored, as a careful MTA
that has not yet taken responsibility would do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from mailsink.store import MailStore, Rejection

log = logging.getLogger(__name__)

# Hook a test can install to hold a DATA transaction open (to kill the sender mid-send).
DataHook = Callable[[Any], Awaitable[None]]


def is_refused(address: str) -> bool:
    """Recipients in ``.invalid`` never exist, so tests and demos can provoke a permanent bounce."""
    domain = address.rpartition("@")[2].lower().rstrip(">")
    return domain == "invalid" or domain.endswith(".invalid")


class SinkHandler:
    """aiosmtpd handler: refuse ``.invalid`` recipients with 550, store every accepted message."""

    def __init__(self, store: MailStore) -> None:
        self.store = store
        self.rejections: list[Rejection] = []
        self.before_accept: DataHook | None = None
        self.data_started = asyncio.Event()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if is_refused(address):
            self.rejections.append(Rejection(address=address, at=datetime.now(UTC).isoformat()))
            log.info("refused recipient %s", address)
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_started.set()
        if self.before_accept is not None:
            await self.before_accept(envelope)
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode()
        message_id = self.store.save(envelope.mail_from, list(envelope.rcpt_tos), data, str(session.peer))
        log.info("stored %s from %s to %s", message_id, envelope.mail_from, envelope.rcpt_tos)
        return "250 Message accepted for delivery"
