"""Messages on disk: one ``<id>.eml`` (the bytes as received) and one ``<id>.json`` (SMTP envelope) each."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Rejection:
    """A recipient the sink refused (``RCPT TO`` answered with 550)."""

    address: str
    at: str


class MailStore:
    """A directory of received messages; safe to read while the SMTP side writes (rename is atomic)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)

    def save(self, mail_from: str, rcpt_to: list[str], data: bytes, peer: str) -> str:
        received_at = datetime.now(UTC)
        # Sortable by arrival time, unique within it.
        message_id = f"{received_at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
        meta = {
            "id": message_id,
            "received_at": received_at.isoformat(),
            "mail_from": mail_from,
            "rcpt_to": rcpt_to,
            "peer": peer,
        }
        eml = self.directory / f"{message_id}.eml"
        tmp = eml.with_suffix(".eml.tmp")
        tmp.write_bytes(data)
        tmp.rename(eml)
        sidecar = self.directory / f"{message_id}.json"
        tmp = sidecar.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta))
        tmp.rename(sidecar)
        return message_id

    def ids(self) -> list[str]:
        return sorted(path.stem for path in self.directory.glob("*.json"))

    def get(self, message_id: str, *, include_raw: bool = False) -> dict[str, Any] | None:
        sidecar = self.directory / f"{message_id}.json"
        eml = self.directory / f"{message_id}.eml"
        if "/" in message_id or not sidecar.exists() or not eml.exists():
            return None
        meta: dict[str, Any] = json.loads(sidecar.read_text())
        raw = eml.read_bytes()
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)
        text = parsed.get_body(preferencelist=("plain",))
        html = parsed.get_body(preferencelist=("html",))
        meta.update(
            {
                "subject": parsed.get("Subject"),
                "from": parsed.get("From"),
                "to": parsed.get("To"),
                "message_id": parsed.get("Message-ID"),
                "date": parsed.get("Date"),
                "headers": {key: str(value) for key, value in parsed.items()},
                "text": text.get_content() if text is not None else None,
                "html": html.get_content() if html is not None else None,
            }
        )
        if include_raw:
            meta["raw"] = raw.decode("utf-8", errors="replace")
        return meta

    def all(self) -> list[dict[str, Any]]:
        messages = (self.get(message_id) for message_id in self.ids())
        return [message for message in messages if message is not None]

    def clear(self) -> int:
        removed = 0
        for path in list(self.directory.iterdir()):
            if path.suffix in {".eml", ".json"}:
                path.unlink(missing_ok=True)
                removed += path.suffix == ".json"
        return removed
