import asyncio
import smtplib
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from mailsink.server import MailSink


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[MailSink]:
    server = MailSink(tmp_path / "mail", smtp_port=0, http_port=0)
    await server.start()
    yield server
    await server.stop()


def _send(port: int, to: str, subject: str = "Hello") -> None:
    message = EmailMessage()
    message["From"] = "shop@warren.local"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = "<abc@warren.local>"
    message.set_content("plain body")
    message.add_alternative("<p>html body</p>", subtype="html")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.send_message(message)


async def test_message_is_listed_with_its_parts_when_sent_over_smtp(sink: MailSink) -> None:
    await asyncio.to_thread(_send, sink.smtp_port, "ada@example.com", "Receipt")
    async with httpx.AsyncClient(base_url=sink.http_url) as http:
        listed = (await http.get("/messages")).json()
        assert len(listed) == 1
        assert listed[0]["subject"] == "Receipt"
        assert listed[0]["rcpt_to"] == ["ada@example.com"]
        assert listed[0]["message_id"] == "<abc@warren.local>"
        assert listed[0]["text"].strip() == "plain body"
        assert "<p>html body</p>" in listed[0]["html"]
        one = (await http.get(f"/messages/{listed[0]['id']}")).json()
        assert "Subject: Receipt" in one["raw"]
        assert (await http.get("/messages", params={"to": "other@example.com"})).json() == []
        assert (await http.delete("/messages")).json() == {"deleted": 1}
        assert (await http.get("/messages")).json() == []
        assert (await http.get("/messages/nope")).status_code == 404


async def test_recipient_is_refused_with_550_when_domain_is_invalid(sink: MailSink) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await asyncio.to_thread(_send, sink.smtp_port, "nobody@example.invalid")
    assert refused.value.recipients["nobody@example.invalid"][0] == 550
    async with httpx.AsyncClient(base_url=sink.http_url) as http:
        assert (await http.get("/messages")).json() == []
        assert [r["address"] for r in (await http.get("/rejections")).json()] == ["nobody@example.invalid"]


async def test_nothing_is_stored_when_sender_disconnects_before_the_reply(sink: MailSink) -> None:
    release = asyncio.Event()
    abandoned = asyncio.Event()

    async def hold(envelope: object) -> None:
        try:
            await release.wait()
        except asyncio.CancelledError:
            abandoned.set()
            raise

    sink.handler.before_accept = hold
    reader, writer = await asyncio.open_connection("127.0.0.1", sink.smtp_port)
    await reader.readline()
    for line in (b"HELO me", b"MAIL FROM:<a@b.c>", b"RCPT TO:<d@e.f>", b"DATA"):
        writer.write(line + b"\r\n")
        await reader.readline()
    writer.write(b"Subject: x\r\n\r\nbody\r\n.\r\n")
    await writer.drain()
    await asyncio.wait_for(sink.handler.data_started.wait(), 5)
    writer.transport.abort()  # the sender dies while the server still holds the transaction
    await asyncio.wait_for(abandoned.wait(), 5)
    release.set()
    async with httpx.AsyncClient(base_url=sink.http_url) as http:
        assert (await http.get("/messages")).json() == []
