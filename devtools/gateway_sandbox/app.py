"""The sandbox's HTTP API: ``POST /v1/charges`` imitating a card gateway, and ``/admin`` for tests and chaos.

Test tokens: ``tok_visa`` (approved), ``tok_chargeDeclined`` (declined), ``tok_insufficientFunds`` (declined,
insufficient funds), ``tok_error`` (500), ``tok_timeout`` (approved, but answers only after
``timeout_delay`` seconds, later than any sane client waits). Any other token is refused (400).

An ``Idempotency-Key`` is required; a repeated key returns the first answer without charging again, and
concurrent requests with one key are serialised so the card is charged once. 500s are not remembered,
so a retry after an error is a real new attempt, as with real gateways.

``POST /v1/voids`` with a ``reference`` is a technical cancel, for a client that gave up on a charge whose
outcome it never learnt (it timed out): every charge made with that reference is voided (the money goes back),
and a charge request with that reference still in flight, or arriving later, is refused without charging.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

APPROVED = "tok_visa"
DECLINES = {"tok_chargeDeclined": "card_declined", "tok_insufficientFunds": "insufficient_funds"}
ERROR = "tok_error"
TIMEOUT = "tok_timeout"


class ChargeRequest(BaseModel):
    amount: Annotated[int, Field(ge=0)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    token: str
    reference: str | None = None


class VoidRequest(BaseModel):
    reference: Annotated[str, Field(min_length=1)]


class ChaosRequest(BaseModel):
    """Fail (answer 503) or slow down (add ``delay`` seconds) every charge for the next ``seconds``."""

    mode: Literal["fail", "slow"]
    seconds: Annotated[float, Field(gt=0)]
    delay: Annotated[float, Field(ge=0)] = 5.0


@dataclass
class Chaos:
    mode: str
    until: float
    delay: float


@dataclass
class Ledger:
    """Everything the sandbox remembers: answers by idempotency key, and every charge actually made."""

    timeout_delay: float
    answers: dict[str, tuple[int, dict[str, Any], str]] = field(default_factory=dict)
    charges: list[dict[str, Any]] = field(default_factory=list)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    voided_references: set[str] = field(default_factory=set)
    requests: int = 0
    chaos: Chaos | None = None

    def active_chaos(self) -> Chaos | None:
        if self.chaos is not None and time.monotonic() >= self.chaos.until:
            self.chaos = None
        return self.chaos


def create_app(*, timeout_delay: float = 30.0) -> FastAPI:
    """The sandbox app with a fresh in-memory ledger."""
    app = FastAPI(title="Warren payment gateway sandbox", version="1")
    ledger = Ledger(timeout_delay=timeout_delay)
    app.state.ledger = ledger

    @app.post("/v1/charges")
    async def charge(
        body: ChargeRequest, idempotency_key: Annotated[str, Header(min_length=1)]
    ) -> JSONResponse:
        ledger.requests += 1
        chaos = ledger.active_chaos()
        if chaos is not None and chaos.mode == "fail":
            return JSONResponse({"error": "service_unavailable"}, status_code=503)
        if chaos is not None and chaos.mode == "slow":
            await asyncio.sleep(chaos.delay)
        fingerprint = body.model_dump_json()
        lock = ledger.locks.setdefault(idempotency_key, asyncio.Lock())
        async with lock:
            remembered = ledger.answers.get(idempotency_key)
            if remembered is not None:
                status, answer, first_fingerprint = remembered
                if first_fingerprint != fingerprint:
                    return JSONResponse(
                        {"error": "idempotency_key_reused", "message": "key was used with other parameters"},
                        status_code=409,
                    )
                return JSONResponse(answer, status_code=status, headers={"Idempotent-Replayed": "true"})
            if body.token == ERROR:
                return JSONResponse({"error": "internal_error"}, status_code=500)
            if body.token == TIMEOUT:
                await asyncio.sleep(ledger.timeout_delay)
            if body.reference is not None and body.reference in ledger.voided_references:
                # Cancelled while in flight (or before it arrived): never charge it.
                return JSONResponse(
                    {"error": "reference_voided", "message": "the reference was voided by the merchant"},
                    status_code=409,
                )
            status, answer = _decide(body, idempotency_key, ledger)
            ledger.answers[idempotency_key] = (status, answer, fingerprint)
            return JSONResponse(answer, status_code=status)

    @app.post("/v1/voids")
    async def void(body: VoidRequest, idempotency_key: Annotated[str, Header(min_length=1)]) -> JSONResponse:
        ledger.requests += 1
        chaos = ledger.active_chaos()
        if chaos is not None and chaos.mode == "fail":
            return JSONResponse({"error": "service_unavailable"}, status_code=503)
        # Idempotent by nature: voiding a reference twice voids nothing more.
        ledger.voided_references.add(body.reference)
        voided = []
        for charge in ledger.charges:
            if charge["reference"] == body.reference and charge["status"] == "succeeded":
                charge["status"] = "voided"
                voided.append(charge["id"])
            elif charge["reference"] == body.reference and charge["status"] == "voided":
                voided.append(charge["id"])
        status = "voided" if voided else "nothing_to_void"
        return JSONResponse({"status": status, "reference": body.reference, "charge_ids": voided})

    @app.get("/v1/charges")
    async def list_charges(reference: str | None = None) -> list[dict[str, Any]]:
        return [c for c in ledger.charges if reference is None or c["reference"] == reference]

    @app.post("/admin/chaos", status_code=204)
    async def start_chaos(body: ChaosRequest) -> None:
        ledger.chaos = Chaos(body.mode, time.monotonic() + body.seconds, body.delay)

    @app.delete("/admin/chaos", status_code=204)
    async def stop_chaos() -> None:
        ledger.chaos = None

    @app.get("/admin/stats")
    async def stats() -> dict[str, Any]:
        chaos = ledger.active_chaos()
        return {
            "requests": ledger.requests,
            "charges": len(ledger.charges),
            "keys": len(ledger.answers),
            "chaos": None if chaos is None else {"mode": chaos.mode, "delay": chaos.delay},
        }

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _decide(body: ChargeRequest, key: str, ledger: Ledger) -> tuple[int, dict[str, Any]]:
    if body.token in DECLINES:
        code = DECLINES[body.token]
        return 402, {"status": "declined", "decline_code": code, "idempotency_key": key}
    if body.token not in {APPROVED, TIMEOUT}:
        raise HTTPException(400, detail={"error": "invalid_token", "token": body.token})
    charge = {
        "id": f"ch_{uuid.uuid4().hex[:24]}",
        "status": "succeeded",
        "amount": body.amount,
        "currency": body.currency,
        "reference": body.reference,
        "idempotency_key": key,
    }
    ledger.charges.append(charge)
    return 201, charge
