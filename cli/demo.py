"""``make demo``: seed stock, drive one checkout through every outcome, report final states and emails.

Talks to a running suite (``make run``) over its public HTTP APIs only, as a shop front end would.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

FINAL = frozenset({"captured", "declined", "rejected", "cancelled", "failed"})
STOCKED_SKU = "DEMO-MUG"
SOLD_OUT_SKU = "DEMO-LAST-ONE"
VELOCITY_WARMUP = 5  # fraud's default: more than 5 payments by one customer in 10 minutes go to review


@dataclass(frozen=True)
class Endpoints:
    payment: str = "http://127.0.0.1:8000"
    inventory: str = "http://127.0.0.1:8001"
    mailsink: str = "http://127.0.0.1:8025"


@dataclass
class Scenario:
    """One checkout and the outcome it should reach."""

    name: str
    expected: str
    token: str = "tok_visa"
    sku: str = STOCKED_SKU
    email_domain: str = "example.com"
    customer: str = ""
    review: str | None = None  # "approve" | "reject": an operator decision once in review
    payment_id: str | None = None
    status: str = "not sent"
    reason: str | None = None
    email: str = ""
    history: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status in FINAL or self.status.startswith("error")


def scenarios(run_id: str) -> list[Scenario]:
    """Every outcome the suite knows; customers are unique per run so fraud's velocity rule starts at zero."""
    reviewer = f"demo-{run_id}-frequent"
    items = [
        Scenario("approved", "captured"),
        Scenario("card declined", "declined", token="tok_chargeDeclined"),
        Scenario("insufficient funds", "declined", token="tok_insufficientFunds"),
        Scenario("fraud: blocked email domain", "rejected", email_domain="blocked.example"),
        Scenario("out of stock", "cancelled", sku=SOLD_OUT_SKU),
        Scenario("review, then approved", "captured", customer=reviewer, review="approve"),
        Scenario("review, then rejected", "rejected", customer=reviewer, review="reject"),
    ]
    for index, item in enumerate(items):
        item.customer = item.customer or f"demo-{run_id}-{index}"
        item.email = f"{item.customer}@{item.email_domain}"
    return items


def checkout_body(
    item: Scenario, order_id: str, quantity: int = 1, unit_amount: int = 1_990
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer": {"id": item.customer, "email": item.email, "country": "NL"},
        "items": [{"sku": item.sku, "quantity": quantity, "unit_amount": unit_amount}],
        "currency": "EUR",
        "payment_method": {"token": item.token},
    }


class Demo:
    """Runs the scenarios; ``report`` is called with a line of progress at each step."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        endpoints: Endpoints,
        report: Callable[[str], None],
        *,
        timeout: float = 90.0,
    ) -> None:
        self.client = client
        self.endpoints = endpoints
        self.report = report
        self.timeout = timeout
        self.run_id = uuid.uuid4().hex[:6]

    async def check_reachable(self) -> list[str]:
        """Names of the APIs that do not answer (empty when all do)."""
        down = []
        for name, base in (("payment", self.endpoints.payment), ("inventory", self.endpoints.inventory)):
            try:
                (await self.client.get(f"{base}/healthz")).raise_for_status()
            except httpx.HTTPError:
                down.append(f"{name} ({base})")
        return down

    async def seed_stock(self) -> None:
        for sku, available in ((STOCKED_SKU, 100), (SOLD_OUT_SKU, 0)):
            response = await self.client.put(
                f"{self.endpoints.inventory}/stock/{sku}", json={"available": available}
            )
            response.raise_for_status()
            self.report(f"stock {sku} = {available}")

    async def _pay(self, item: Scenario, order_id: str) -> str:
        response = await self.client.post(
            f"{self.endpoints.payment}/payments",
            json=checkout_body(item, order_id),
            headers={"Idempotency-Key": f"{order_id}-key"},
        )
        response.raise_for_status()
        return str(response.json()["payment_id"])

    async def _status(self, payment_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{self.endpoints.payment}/payments/{payment_id}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def _wait(self, payment_id: str, until: Callable[[str], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            view = await self._status(payment_id)
            if until(view["status"]) or time.monotonic() >= deadline:
                return view
            await asyncio.sleep(0.2)  # polling interval of a deadline wait

    async def warm_up_velocity(self, customer: str) -> None:
        """Make ``customer`` frequent, so their next payments go to review (fraud's velocity rule)."""
        warmup = Scenario("warm-up", "captured", customer=customer, email=f"{customer}@example.com")
        ids = [await self._pay(warmup, f"demo-{self.run_id}-warmup-{i}") for i in range(VELOCITY_WARMUP)]
        for payment_id in ids:
            await self._wait(payment_id, lambda s: s in FINAL)
        self.report(f"{customer} made {VELOCITY_WARMUP} payments: the next ones go to review")

    async def run_one(self, index: int, item: Scenario) -> None:
        try:
            item.payment_id = await self._pay(item, f"demo-{self.run_id}-{index}")
            self.report(f"{item.name}: payment {item.payment_id} accepted")
            if item.review:
                view = await self._wait(item.payment_id, lambda s: s == "review" or s in FINAL)
                if view["status"] == "review":
                    self.report(f"{item.name}: in review, operator decides {item.review}")
                    response = await self.client.post(
                        f"{self.endpoints.payment}/payments/{item.payment_id}/review",
                        json={"decision": item.review},
                    )
                    response.raise_for_status()
            view = await self._wait(item.payment_id, lambda s: s in FINAL)
            item.status, item.reason = view["status"], view.get("reason")
            item.history = [step["step"] for step in view.get("history", [])]
        except httpx.HTTPError as exc:
            item.status = f"error: {exc}"
        self.report(f"{item.name}: {item.status}")

    async def run(self) -> list[Scenario]:
        items = scenarios(self.run_id)
        await self.seed_stock()
        reviewers = sorted({item.customer for item in items if item.review})
        for customer in reviewers:
            await self.warm_up_velocity(customer)
        # Review payments go one after another so each is counted after the warm-up; the rest run at once.
        plain = [(i, item) for i, item in enumerate(items) if not item.review]
        await asyncio.gather(*(self.run_one(i, item) for i, item in plain))
        for i, item in enumerate(items):
            if item.review:
                await self.run_one(i, item)
        return items

    async def emails(self, items: list[Scenario], *, settle: float = 15.0) -> list[dict[str, Any]]:
        """Emails the mail sink received for this run's customers (waits up to ``settle`` s for them)."""
        wanted = {item.email.lower() for item in items if item.status in FINAL}
        deadline = time.monotonic() + settle
        while True:
            try:
                response = await self.client.get(f"{self.endpoints.mailsink}/messages")
                response.raise_for_status()
            except httpx.HTTPError:
                return []
            mine = [m for m in response.json() if wanted & {r.lower() for r in m.get("rcpt_to", [])}]
            received = {r.lower() for m in mine for r in m.get("rcpt_to", [])}
            if wanted <= received or time.monotonic() >= deadline:
                return mine
            await asyncio.sleep(0.5)  # polling interval of a deadline wait
