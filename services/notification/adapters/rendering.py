"""Rendering notifications from jinja2 templates: subject, plain text and HTML for email; JSON for webhooks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2

from notification.domain.decisions import Intent
from notification.domain.model import Channel

TEMPLATES = Path(__file__).parent / "templates"

# ISO 4217 minor-unit exponents that differ from 2; amounts travel as integers in minor units.
_EXPONENTS = {
    "JPY": 0,
    "KRW": 0,
    "ISK": 0,
    "CLP": 0,
    "VND": 0,
    "BHD": 3,
    "KWD": 3,
    "JOD": 3,
    "OMR": 3,
    "TND": 3,
}


def money(minor_units: int, currency: str) -> str:
    """``1234, "EUR"`` -> ``12.34 EUR``; ``500, "JPY"`` -> ``500 JPY``."""
    exponent = _EXPONENTS.get(currency, 2)
    value = Decimal(minor_units).scaleb(-exponent)
    return f"{value:,.{exponent}f} {currency}"


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body_text: str
    body_html: str | None


class Renderer:
    """Renders an :class:`Intent`; a missing variable in a template is an error, never a blank."""

    def __init__(self, brand: str = "Warren Shop", directory: Path = TEMPLATES) -> None:
        self._brand = brand
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory),
            autoescape=lambda name: name is not None and name.endswith(".html.j2"),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
        )
        self._env.filters["money"] = money

    def render(self, intent: Intent, notification_id: str) -> Rendered:
        if intent.channel is Channel.WEBHOOK:
            return Rendered(subject=None, body_text=webhook_body(intent, notification_id), body_html=None)
        context: dict[str, Any] = {"brand": self._brand, **intent.context}
        subject = self._env.get_template(f"{intent.template}.subject.j2").render(context)
        return Rendered(
            subject=" ".join(subject.split()),  # a header is one line
            body_text=self._env.get_template(f"{intent.template}.txt.j2").render(context).strip() + "\n",
            body_html=self._env.get_template(f"{intent.template}.html.j2").render(context),
        )


def webhook_body(intent: Intent, notification_id: str) -> str:
    """The JSON a merchant endpoint receives: our notification id, the event type, when, and its data."""
    return json.dumps(
        {
            "id": notification_id,
            "type": intent.context["message_type"],
            "occurred_at": intent.context["occurred_at"],
            "data": intent.context["event"],
        },
        separators=(",", ":"),
        sort_keys=True,
    )
