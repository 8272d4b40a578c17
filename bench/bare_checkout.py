"""A bare, hand-written checkout: the floor that bench_checkout.py measures Warren against. Not product code.

The same saga as Warren's payment, fraud and inventory services, with the same durable design, written
straight on the drivers: aio-pika (publisher confirms, manual acks, one quorum queue per handler on topic
exchanges, persistent messages, Warren's prefetch of 32), asyncpg (a pool of at most 15 connections, as
Warren's engine) or sqlite3 on the loop's thread (one connection in WAL mode whose writers take turns, as
Warren on SQLite), a raw
ASGI app on uvicorn with httptools, and aiohttp for the card gateway (the gateway sandbox's ``POST
/v1/charges``). Each step is one transaction with the same durable work as Warren (inbox mark, state rows,
outbox row); after COMMIT the handler acks its delivery, publishes the outbox row with a confirm and marks it
sent: the floor of a transactional outbox, where Warren runs a relay that claims and publishes rows. As in
Warren, the answer that claims the charge is acked only once the gateway's answer is recorded (a crash before
that redelivers it; there is no sweeper here to retry a claimed charge).

Per checkout: 8 transactions, 5 outbox rows, 6 deliveries, 1 gateway call::

    payment   POST /payments      payment row + outbox payment.requested -> 202
    fraud     payment.requested   inbox, customer lock row, velocity count, assessment, outbox fraud.assessed
    inventory payment.requested   inbox, conditional stock update, reservation, outbox inventory.reserved
    payment   fraud.assessed      inbox, payment update        } the second answer claims the charge, then
    payment   inventory.reserved  inbox, payment update        } gateway call, payment captured + outbox
    inventory payment.captured    inbox, stock sold, reservation committed, outbox inventory.committed
    payment   inventory.committed inbox, payment history

Deliberately left out: retries, retry-tier and dead-letter queues (a failing message is rejected and dropped),
circuit breakers, timeouts and bulkheads, the sweeper, the relay and its claims, metrics, tracing, logging,
pydantic validation (the checkout is checked by hand, minimally), alembic (tables are created at start), the
review path and stock shortages beyond never overselling (a shortage rolls the step back). Fraud approves every
checkout (its velocity count is still taken). Times are stored as epoch seconds.

Run: ``python bench/bare_checkout.py {payment|fraud|inventory} --amqp URL --database DSN --port N
[--gateway URL] [--seed SKU=N]`` with DSN ``postgresql://...`` or ``sqlite:///path``. The process is ready once
``GET /healthz`` answers; inventory also answers ``GET /stock/{sku}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, NamedTuple

import aio_pika
import aiohttp
import asyncpg
import uvicorn
import uvloop

PREFETCH = 32  # Warren's default per handler queue (shared.messaging.topology.HandlerQueue.prefetch)
LEASE, DEADLINE, RESERVATION_TTL, VELOCITY_WINDOW = 30.0, 600.0, 900.0, 600.0  # seconds, as Warren's defaults
OUTCOMES = ("captured", "declined", "rejected", "cancelled", "failed")

COMMON_DDL = """
CREATE TABLE IF NOT EXISTS outbox_messages (
    id {id}, message_id varchar(36) NOT NULL UNIQUE, kind varchar(8) NOT NULL,
    message_type varchar(200) NOT NULL, aggregate_id varchar(200), exchange varchar(255) NOT NULL,
    routing_key varchar(255) NOT NULL, producer varchar(100) NOT NULL, correlation_id varchar(255) NOT NULL,
    causation_id varchar(255), traceparent varchar(100), headers {json}, payload text NOT NULL,
    created_at double precision NOT NULL, status varchar(8) NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0, sent_at double precision, last_error text);
CREATE INDEX IF NOT EXISTS ix_outbox_status_id ON outbox_messages (status, id);
CREATE INDEX IF NOT EXISTS ix_outbox_aggregate_id_id ON outbox_messages (aggregate_id, id);
CREATE INDEX IF NOT EXISTS ix_outbox_status_sent_at ON outbox_messages (status, sent_at);
CREATE TABLE IF NOT EXISTS inbox_messages (
    handler varchar(200) NOT NULL, message_id varchar(64) NOT NULL, message_type varchar(200),
    handled_at double precision NOT NULL, PRIMARY KEY (handler, message_id));
CREATE INDEX IF NOT EXISTS ix_inbox_handled_at ON inbox_messages (handled_at);
"""
DDL = {
    "payment": """
CREATE TABLE IF NOT EXISTS payments (
    id varchar(64) PRIMARY KEY, idempotency_key varchar(255) NOT NULL UNIQUE, order_id varchar(128) NOT NULL,
    customer_id varchar(128) NOT NULL, customer_email varchar(320) NOT NULL, customer_country varchar(2) NOT NULL,
    items {json} NOT NULL, currency varchar(3) NOT NULL, token varchar(128) NOT NULL, amount bigint NOT NULL,
    status varchar(16) NOT NULL, reason text, fraud_decision varchar(16), fraud_score integer,
    fraud_reasons {json} NOT NULL, stock_status varchar(16), reservation_id varchar(128), charge_id varchar(128),
    charge_attempts integer NOT NULL, charge_due_at double precision, deadline double precision NOT NULL,
    created_at double precision NOT NULL, history {json} NOT NULL, version integer NOT NULL);
CREATE INDEX IF NOT EXISTS ix_payments_charge_due_at ON payments (charge_due_at) WHERE charge_due_at IS NOT NULL;
""",
    "fraud": """
CREATE TABLE IF NOT EXISTS customers (customer_id varchar(128) PRIMARY KEY);
CREATE TABLE IF NOT EXISTS assessments (
    payment_id varchar(128) PRIMARY KEY, customer_id varchar(128) NOT NULL,
    requested_at double precision NOT NULL, decision varchar(16) NOT NULL, score integer NOT NULL,
    reasons {json} NOT NULL);
CREATE INDEX IF NOT EXISTS ix_assessments_velocity ON assessments (customer_id, requested_at);
""",
    "inventory": """
CREATE TABLE IF NOT EXISTS stock (
    sku varchar(64) PRIMARY KEY, available integer NOT NULL CHECK (available >= 0),
    reserved integer NOT NULL CHECK (reserved >= 0), sold integer NOT NULL CHECK (sold >= 0));
CREATE TABLE IF NOT EXISTS reservations (
    payment_id varchar(128) PRIMARY KEY, reservation_id varchar(36) NOT NULL UNIQUE, status varchar(16) NOT NULL,
    lines {json} NOT NULL, created_at double precision NOT NULL, expires_at double precision, reason text);
CREATE INDEX IF NOT EXISTS ix_reservations_due ON reservations (status, expires_at);
""",
}
INSERT_OUTBOX = (
    "INSERT INTO outbox_messages (message_id, kind, message_type, aggregate_id, exchange, routing_key, producer,"
    " correlation_id, causation_id, payload, created_at) VALUES ($1, 'event', $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    " RETURNING id"
)
MARK_SENT = "UPDATE outbox_messages SET status = 'sent', sent_at = $2 WHERE id = $1"
MARK_HANDLED = (
    "INSERT INTO inbox_messages (handler, message_id, message_type, handled_at) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (handler, message_id) DO NOTHING RETURNING 1"
)


# payment
INSERT_PAYMENT = (
    "INSERT INTO payments (id, idempotency_key, order_id, customer_id, customer_email, customer_country, items,"
    " currency, token, amount, status, fraud_reasons, charge_attempts, deadline, created_at, history, version)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', '[]', 0, $11, $12, $13, 1)"
)
PAYMENT_BY_KEY = "SELECT id, status FROM payments WHERE idempotency_key = $1"
PAYMENT_FOR_UPDATE = "SELECT * FROM payments WHERE id = $1 FOR UPDATE"
RECORD_ANSWER = (
    "UPDATE payments SET status = $3, fraud_decision = $4, fraud_score = $5, fraud_reasons = $6, stock_status = $7,"
    " reservation_id = $8, charge_attempts = $9, charge_due_at = $10, history = $11, version = version + 1"
    " WHERE id = $1 AND version = $2"
)
RECORD_CHARGE = (
    "UPDATE payments SET status = $3, charge_id = $4, reason = $5, charge_due_at = NULL, history = $6,"
    " version = version + 1 WHERE id = $1 AND version = $2 RETURNING 1"
)
RECORD_HISTORY = "UPDATE payments SET history = $3, version = version + 1 WHERE id = $1 AND version = $2"
# fraud
LOCK_CUSTOMER = (
    "INSERT INTO customers (customer_id) VALUES ($1)"
    " ON CONFLICT (customer_id) DO UPDATE SET customer_id = excluded.customer_id"
)
VELOCITY = (
    "SELECT count(*) FROM assessments WHERE customer_id = $1 AND requested_at > $2 AND requested_at < $3"
)
ASSESSMENT = "SELECT * FROM assessments WHERE payment_id = $1"
INSERT_ASSESSMENT = (
    "INSERT INTO assessments (payment_id, customer_id, requested_at, decision, score, reasons)"
    " VALUES ($1, $2, $3, 'approved', $4, '[]')"
)
# inventory
SEED_STOCK = (
    "INSERT INTO stock (sku, available, reserved, sold) VALUES ($1, $2, 0, 0)"
    " ON CONFLICT (sku) DO UPDATE SET available = excluded.available"
)
STOCK = "SELECT * FROM stock WHERE sku = $1"
RESERVATION_FOR_UPDATE = "SELECT * FROM reservations WHERE payment_id = $1 FOR UPDATE"
RESERVE = (
    "UPDATE stock SET available = available - $2, reserved = reserved + $2"
    " WHERE sku = $1 AND available >= $2 RETURNING 1"
)
INSERT_RESERVATION = (
    "INSERT INTO reservations (payment_id, reservation_id, status, lines, created_at, expires_at)"
    " VALUES ($1, $2, 'reserved', $3, $4, $5)"
)
SELL = "UPDATE stock SET reserved = reserved - $2, sold = sold + $2 WHERE sku = $1"
RELEASE = "UPDATE stock SET reserved = reserved - $2, available = available + $2 WHERE sku = $1"
SETTLE_RESERVATION = "UPDATE reservations SET status = $2, reason = $3 WHERE payment_id = $1"


class Lite:
    """asyncpg's connection methods on a sqlite3 connection, run on the loop's thread as Warren does ($1
    placeholders become ?1, no FOR UPDATE)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    async def fetchrow(self, query: str, *args: Any) -> Any:
        sql = query.replace("$", "?").replace(" FOR UPDATE", "")
        return self.connection.execute(sql, args).fetchone()

    async def fetchval(self, query: str, *args: Any) -> Any:
        row = await self.fetchrow(query, *args)
        return None if row is None else row[0]

    execute = fetchrow


class Database:
    """An asyncpg pool, or one sqlite3 connection whose transactions take turns (BEGIN IMMEDIATE)."""

    def __init__(self, dsn: str) -> None:
        self.dsn, self.sqlite, self.turn = dsn, dsn.startswith("sqlite:"), asyncio.Lock()

    async def open(self, ddl: str) -> None:
        if self.sqlite:
            # One process per database file: the write lock is never waited for, so the calls never block.
            path = self.dsn.removeprefix("sqlite:///")
            self.lite = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.lite.row_factory = sqlite3.Row
            for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
                self.lite.execute(f"PRAGMA {pragma}")
            self.lite.executescript(ddl.format(id="integer PRIMARY KEY", json="text"))
        else:
            self.pool = await asyncpg.create_pool(self.dsn, min_size=2, max_size=15)
            await self.pool.execute(ddl.format(id="bigserial PRIMARY KEY", json="json"))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        if not self.sqlite:
            async with self.pool.acquire() as connection, connection.transaction():
                yield connection
            return
        async with self.turn:
            self.lite.execute("BEGIN IMMEDIATE")
            try:
                yield Lite(self.lite)
            except BaseException:
                self.lite.execute("ROLLBACK")
                raise
            self.lite.execute("COMMIT")

    async def execute(self, query: str, *args: Any) -> None:
        """One statement in a transaction of its own."""
        if self.sqlite:
            async with self.turn:
                await Lite(self.lite).execute(query, *args)
        else:
            await self.pool.execute(query, *args)

    async def close(self) -> None:
        if self.sqlite:
            self.lite.close()
        else:
            await self.pool.close()


class Outgoing(NamedTuple):
    row_id: int
    routing_key: str
    body: bytes
    message_id: str
    correlation_id: str


Message = aio_pika.abc.AbstractIncomingMessage
Handler = Callable[[Message, dict[str, Any]], Awaitable[list[Outgoing]]]
Answer = tuple[int, Any, Outgoing | None]  # HTTP status, JSON body, message to send after answering


class Service:
    """A service's broker side and outbox: consume with manual acks, publish after commit with a confirm."""

    name = ""

    def __init__(self, db: Database, connection: aio_pika.abc.AbstractConnection, args: argparse.Namespace):
        self.db, self.connection, self.args = db, connection, args

    async def start(self) -> None:
        channel = await self.connection.channel(publisher_confirms=True)
        self.exchange = await self.exchange_on(channel, f"{self.name}.events")

    @staticmethod
    async def exchange_on(channel: aio_pika.abc.AbstractChannel, name: str) -> aio_pika.abc.AbstractExchange:
        return await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)

    async def consume(self, handler: str, bindings: list[tuple[str, str]], handle: Handler) -> None:
        """One quorum queue and one channel per handler, as Warren's consumer runtime."""
        channel = await self.connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=PREFETCH)
        quorum: dict[str, Any] = {"x-queue-type": "quorum"}
        queue = await channel.declare_queue(f"{self.name}.{handler}", durable=True, arguments=quorum)
        for exchange, routing_key in bindings:
            await queue.bind(await self.exchange_on(channel, exchange), routing_key)

        async def on_message(message: Message) -> None:
            try:
                sends = await handle(message, json.loads(message.body))
            except Exception:
                await message.reject()  # no retry tiers, no dead-letter queue: dropped
                raise
            await message.ack()
            for outgoing in sends:
                await self.send(outgoing)

        await queue.consume(on_message)

    async def outbox(self, tx: Any, fact: str, payload: dict[str, Any], message: Message | None) -> Outgoing:
        """Insert the outbox row of ``fact`` (caused by ``message``) in the transaction ``tx``."""
        message_id, body, aggregate = str(uuid.uuid4()), json.dumps(payload), payload["payment_id"]
        correlation = message.correlation_id or aggregate if message else aggregate
        cause = message.message_id if message else None
        row = (message_id, f"{fact}.v1", aggregate, self.exchange.name, fact, self.name, correlation, cause)
        row_id = await tx.fetchval(INSERT_OUTBOX, *row, body, time.time())
        return Outgoing(row_id, fact, body.encode(), message_id, correlation)

    async def send(self, out: Outgoing) -> None:
        message = aio_pika.Message(
            out.body,
            message_id=out.message_id,
            type=f"{out.routing_key}.v1",
            correlation_id=out.correlation_id,
            app_id=self.name,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self.exchange.publish(message, routing_key=out.routing_key)  # returns once confirmed
        await self.db.execute(MARK_SENT, out.row_id, time.time())

    @staticmethod
    async def first_time(tx: Any, handler: str, message: Message) -> bool:
        """The inbox mark: False when ``handler`` already handled this message (a redelivery)."""
        return bool(await tx.fetchval(MARK_HANDLED, handler, message.message_id, message.type, time.time()))

    async def http(self, method: str, path: str, body: bytes, key: str) -> Answer:
        if path == "/healthz":
            return 200, {"status": "ok"}, None
        return 404, {"detail": "not found"}, None


class Payment(Service):
    name = "payment"

    async def start(self) -> None:
        await super().start()
        self.gateway = aiohttp.ClientSession(self.args.gateway, connector=aiohttp.TCPConnector(limit=32))
        await self.consume("on_fraud_assessed", [("fraud.events", "fraud.assessed")], self.on_answer)
        answers = [("inventory.events", "inventory.reserved"), ("inventory.events", "inventory.rejected")]
        await self.consume("on_stock_answer", answers, self.on_answer)
        settled = [("inventory.events", "inventory.committed"), ("inventory.events", "inventory.released")]
        await self.consume("on_stock_settled", settled, self.on_stock_settled)

    async def http(self, method: str, path: str, body: bytes, key: str) -> Answer:
        if method != "POST" or path != "/payments":
            return await super().http(method, path, body, key)
        try:
            checkout = json.loads(body)
            customer, items, currency = checkout["customer"], checkout["items"], checkout["currency"]
            amount = sum(int(item["quantity"]) * int(item["unit_amount"]) for item in items)
            who = (checkout["order_id"], customer["id"], customer["email"], customer["country"])
            token = checkout["payment_method"]["token"]
            if not key or not items or amount <= 0 or len(currency) != 3:
                raise ValueError("invalid checkout")
        except (ValueError, KeyError, TypeError) as exc:
            return 422, {"detail": str(exc)}, None
        payment_id, now = str(uuid.uuid4()), time.time()
        history = json.dumps([{"at": now, "event": "requested"}])
        try:
            async with self.db.transaction() as tx:
                row = (json.dumps(items), currency, token, amount, now + DEADLINE, now, history)
                await tx.execute(INSERT_PAYMENT, payment_id, key, *who, *row)
                requested = {"payment_id": payment_id, "order_id": who[0], "customer": customer}
                requested |= {"items": items, "amount": amount, "currency": currency}
                out = await self.outbox(tx, "payment.requested", requested, None)
        except (asyncpg.UniqueViolationError, sqlite3.IntegrityError):  # a used key: answer its payment
            async with self.db.transaction() as tx:
                existing = await tx.fetchrow(PAYMENT_BY_KEY, key)
            return 202, {"payment_id": existing["id"], "status": existing["status"]}, None
        return 202, {"payment_id": payment_id, "status": "pending"}, out

    async def on_answer(self, message: Message, event: dict[str, Any]) -> list[Outgoing]:
        """Fraud's or inventory's answer; whichever comes second claims the charge, made after commit."""
        now, fact = time.time(), message.routing_key
        handler = "on_fraud_assessed" if fact == "fraud.assessed" else "on_stock_answer"
        async with self.db.transaction() as tx:
            if not await self.first_time(tx, handler, message):
                return []
            p = await tx.fetchrow(PAYMENT_FOR_UPDATE, event["payment_id"])
            fraud = (p["fraud_decision"], p["fraud_score"], p["fraud_reasons"])
            stock, reservation = p["stock_status"], p["reservation_id"]
            if fact == "fraud.assessed":
                fraud = (event["decision"], event["score"], json.dumps(event["reasons"]))
            elif fact == "inventory.reserved":
                stock, reservation = "reserved", event["reservation_id"]
            else:
                stock = "rejected"
            claim = p["status"] == "pending" and fraud[0] == "approved" and stock == "reserved"
            status, attempts = ("charging", 1) if claim else (p["status"], p["charge_attempts"])
            history = json.dumps([*json.loads(p["history"]), {"at": now, "event": fact}])
            due = now + LEASE if claim else None
            answer = (*fraud, stock, reservation, attempts, due, history)
            await tx.execute(RECORD_ANSWER, p["id"], p["version"], status, *answer)
        return await self.charge(p, history, message) if claim else []

    async def charge(self, p: Any, history: str, message: Message) -> list[Outgoing]:
        body = {"amount": p["amount"], "currency": p["currency"], "token": p["token"], "reference": p["id"]}
        headers = {"Idempotency-Key": p["id"]}
        for attempt in range(3):
            # A pooled keep-alive connection the gateway closed while idle fails the next request; the charge is
            # idempotent by key, so retry it as Warren does (without this, one lost checkout hangs the bench).
            try:
                async with self.gateway.post("/v1/charges", json=body, headers=headers) as answer:
                    if answer.status >= 500:  # Warren retries more; here the payment stays charging
                        raise RuntimeError(f"gateway answered {answer.status}")
                    charge = await answer.json()
                break
            except aiohttp.ClientConnectionError:
                if attempt == 2:
                    raise
        captured = 200 <= answer.status < 300
        status, now = ("captured" if captured else "declined"), time.time()
        history = json.dumps([*json.loads(history), {"at": now, "event": status}])
        async with self.db.transaction() as tx:
            result = (status, charge.get("id"), charge.get("decline_code"), history)
            if not await tx.fetchval(RECORD_CHARGE, p["id"], p["version"] + 1, *result):
                raise RuntimeError(f"payment {p['id']} changed while charging")
            outcome = {"payment_id": p["id"], "order_id": p["order_id"], "customer_id": p["customer_id"]}
            outcome |= {key: p[key] for key in ("customer_email", "amount", "currency")}
            outcome |= {"charge_id": charge["id"]} if captured else {"reason": charge.get("decline_code")}
            return [await self.outbox(tx, f"payment.{status}", outcome, message)]

    async def on_stock_settled(self, message: Message, event: dict[str, Any]) -> list[Outgoing]:
        async with self.db.transaction() as tx:
            if not await self.first_time(tx, "on_stock_settled", message):
                return []
            p = await tx.fetchrow(PAYMENT_FOR_UPDATE, event["payment_id"])
            settled = {"at": time.time(), "event": message.routing_key}
            history = json.dumps([*json.loads(p["history"]), settled])
            await tx.execute(RECORD_HISTORY, p["id"], p["version"], history)
        return []


class Fraud(Service):
    name = "fraud"

    async def start(self) -> None:
        await super().start()
        await self.consume("on_payment_requested", [("payment.events", "payment.requested")], self.assess)

    async def assess(self, message: Message, event: dict[str, Any]) -> list[Outgoing]:
        payment_id, customer, now = event["payment_id"], event["customer"]["id"], time.time()
        async with self.db.transaction() as tx:
            if not await self.first_time(tx, "on_payment_requested", message):
                return []
            await tx.execute(LOCK_CUSTOMER, customer)  # the row lock that keeps velocity counts exact
            recent = await tx.fetchval(VELOCITY, customer, now - VELOCITY_WINDOW, now)
            if await tx.fetchrow(ASSESSMENT, payment_id) is not None:
                return []
            score = min(100, 10 * recent)
            await tx.execute(INSERT_ASSESSMENT, payment_id, customer, now, score)
            assessed = {"payment_id": payment_id, "decision": "approved", "score": score, "reasons": []}
            return [await self.outbox(tx, "fraud.assessed", assessed, message)]


class Inventory(Service):
    name = "inventory"

    async def start(self) -> None:
        for seed in self.args.seed:
            sku, available = seed.split("=")
            await self.db.execute(SEED_STOCK, sku, int(available))
        await super().start()
        await self.consume("on_payment_requested", [("payment.events", "payment.requested")], self.reserve)
        outcomes = [("payment.events", f"payment.{outcome}") for outcome in OUTCOMES]
        await self.consume("on_payment_outcome", outcomes, self.settle)
        await self.consume("on_payment_review", [("payment.events", "payment.review_required")], self.review)

    async def http(self, method: str, path: str, body: bytes, key: str) -> Answer:
        if method != "GET" or not path.startswith("/stock/"):
            return await super().http(method, path, body, key)
        async with self.db.transaction() as tx:
            row = await tx.fetchrow(STOCK, path.removeprefix("/stock/"))
        return (200, dict(row), None) if row else (404, {"detail": "unknown sku"}, None)

    async def reserve(self, message: Message, event: dict[str, Any]) -> list[Outgoing]:
        payment_id, now = event["payment_id"], time.time()
        lines = sorted((item["sku"], int(item["quantity"])) for item in event["items"])
        async with self.db.transaction() as tx:
            if not await self.first_time(tx, "on_payment_requested", message):
                return []
            if await tx.fetchrow(RESERVATION_FOR_UPDATE, payment_id) is not None:
                return []
            for sku, quantity in lines:  # conditional: never oversells (a shortage rolls the step back)
                if not await tx.fetchval(RESERVE, sku, quantity):
                    raise RuntimeError(f"not enough {sku} for {payment_id}")
            reservation_id = str(uuid.uuid4())
            reservation = (json.dumps(lines), now, now + RESERVATION_TTL)
            await tx.execute(INSERT_RESERVATION, payment_id, reservation_id, *reservation)
            items = [{"sku": sku, "quantity": quantity} for sku, quantity in lines]
            reserved = {"payment_id": payment_id, "reservation_id": reservation_id, "items": items}
            return [await self.outbox(tx, "inventory.reserved", reserved, message)]

    async def settle(self, message: Message, event: dict[str, Any]) -> list[Outgoing]:
        """Captured sells the reserved units; any other outcome gives them back."""
        sold = message.routing_key == "payment.captured"
        async with self.db.transaction() as tx:
            if not await self.first_time(tx, "on_payment_outcome", message):
                return []
            r = await tx.fetchrow(RESERVATION_FOR_UPDATE, event["payment_id"])
            if r is None or r["status"] != "reserved":
                return []
            for sku, quantity in json.loads(r["lines"]):
                await tx.execute(SELL if sold else RELEASE, sku, quantity)
            status, reason = ("committed", None) if sold else ("released", message.routing_key)
            await tx.execute(SETTLE_RESERVATION, r["payment_id"], status, reason)
            settled = {"payment_id": r["payment_id"], "reservation_id": r["reservation_id"]}
            settled |= {} if sold else {"reason": reason}
            return [await self.outbox(tx, f"inventory.{status}", settled, message)]

    async def review(self, message: Message, event: dict[str, Any]) -> list[Outgoing]:
        return []  # declared so the queue count matches Warren's; fraud here never sends a payment to review


class Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # main() owns SIGTERM and SIGINT


def asgi(service: Service) -> Callable[..., Awaitable[None]]:
    """The raw ASGI app: read the body, let the service answer, then send what it left to send."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            event = await receive()
            body, more = body + event.get("body", b""), event.get("more_body", False)
        key = next((v.decode() for k, v in scope["headers"] if k == b"idempotency-key"), "")
        status, answer, outgoing = await service.http(scope["method"], scope["path"], body, key)
        payload = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        # After the answer, as with a relay: the client does not wait for the broker.
        if outgoing is not None:
            await service.send(outgoing)

    return app


async def main(args: argparse.Namespace) -> None:
    db = Database(args.database)
    await db.open(COMMON_DDL + DDL[args.role])
    connection = await aio_pika.connect(args.amqp)
    service = {"payment": Payment, "fraud": Fraud, "inventory": Inventory}[args.role](db, connection, args)
    await service.start()
    app = asgi(service)
    config = uvicorn.Config(app, port=args.port, http="httptools", lifespan="off", access_log=False)
    server = Server(config)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    serving = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await serving
    if isinstance(service, Payment):
        await service.gateway.close()
    await connection.close()
    await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("role", choices=["payment", "fraud", "inventory"])
    parser.add_argument("--amqp", required=True, help="amqp://user:pass@host:port/vhost")
    parser.add_argument("--database", required=True, help="postgresql://... or sqlite:///path")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--gateway", default="http://127.0.0.1:8090", help="the gateway sandbox (payment)")
    parser.add_argument("--seed", action="append", default=[], help="SKU=N units available (inventory)")
    uvloop.run(main(parser.parse_args()))
