"""The demo driver against a fake suite (httpx MockTransport): every scenario ends where it should."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx

from warrenctl.demo import SOLD_OUT_SKU, VELOCITY_WARMUP, Demo, Endpoints


class FakeSuite:
    """Just enough of payment, inventory and the mail sink to play each outcome by the documented rules."""

    def __init__(self) -> None:
        self.stock: dict[str, int] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.per_customer: Counter[str] = Counter()
        self.mail: list[dict[str, Any]] = []

    def outcome(self, body: dict[str, Any]) -> str:
        self.per_customer[body["customer"]["id"]] += 1
        if body["customer"]["email"].endswith("@blocked.example"):
            return "rejected"
        if self.per_customer[body["customer"]["id"]] > VELOCITY_WARMUP:
            return "review"
        if self.stock.get(body["items"][0]["sku"], 0) < body["items"][0]["quantity"]:
            return "cancelled"
        return "declined" if body["payment_method"]["token"] != "tok_visa" else "captured"

    def settle(self, payment: dict[str, Any], status: str) -> None:
        payment["status"] = status
        if status != "review":
            self.mail.append({"rcpt_to": [payment["email"]], "subject": f"Your payment was {status}"})

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if method == "PUT" and path.startswith("/stock/"):
            self.stock[path.removeprefix("/stock/")] = json.loads(request.content)["available"]
            return httpx.Response(200, json={})
        if method == "POST" and path == "/payments":
            assert request.headers["Idempotency-Key"]
            body = json.loads(request.content)
            payment_id = f"p{len(self.payments)}"
            payment = {
                "payment_id": payment_id,
                "email": body["customer"]["email"],
                "history": [],
                "reason": None,
            }
            self.payments[payment_id] = payment
            self.settle(payment, self.outcome(body))
            return httpx.Response(202, json={"payment_id": payment_id, "status": "pending"})
        if method == "POST" and path.endswith("/review"):
            payment = self.payments[path.split("/")[2]]
            decision = json.loads(request.content)["decision"]
            self.settle(payment, "captured" if decision == "approve" else "rejected")
            return httpx.Response(200, json=payment)
        if method == "GET" and path.startswith("/payments/"):
            return httpx.Response(200, json=self.payments[path.split("/")[2]])
        if method == "GET" and path == "/messages":
            return httpx.Response(200, json=self.mail)
        return httpx.Response(404)


async def test_every_scenario_reaches_its_expected_outcome_when_the_suite_follows_the_rules() -> None:
    suite = FakeSuite()
    lines: list[str] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(suite.handle)) as client:
        demo = Demo(client, Endpoints(), lines.append, timeout=5)
        assert await demo.check_reachable() == []
        items = await demo.run()
        emails = await demo.emails(items, settle=1)
    assert [(i.name, i.status) for i in items if i.status != i.expected] == []
    assert {i.expected for i in items} == {"captured", "declined", "rejected", "cancelled"}
    assert suite.stock[SOLD_OUT_SKU] == 0
    assert {e["rcpt_to"][0] for e in emails} >= {i.email for i in items}
    assert any("in review, operator decides approve" in line for line in lines)


async def test_unreachable_apis_are_named_when_the_suite_is_not_running() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        down = await Demo(client, Endpoints(), print).check_reachable()
    assert down == ["payment (http://127.0.0.1:8000)", "inventory (http://127.0.0.1:8001)"]
