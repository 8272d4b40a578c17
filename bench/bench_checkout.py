"""End-to-end checkout benchmark: POST /payments to the payment's final outcome, all services as processes.

For each database backend (PostgreSQL, SQLite) it starts the gateway sandbox and two implementations of the
checkout side by side, each in its own vhost with its own databases:

* bare: bench/bare_checkout.py, a hand-written payment, fraud and inventory on aio-pika, asyncpg or sqlite3 and
  a raw ASGI app, with Warren's durable design (inbox, state and outbox row in one transaction per step,
  publisher confirms, manual acks, quorum queues): the floor a lean Python implementation reaches on this
  machine (``--no-bare`` skips it; ``--payment-only`` never runs it);
* Warren: fraud, inventory and payment as processes;

then measures, the two taking turns so that a drift in the machine's speed falls on both alike:

* throughput, ``--rounds`` times each (median reported, with Warren's ratio to bare per round): N checkouts
  fired with a bounded number in flight, checkouts/s from the first POST to the last outcome event
  (payment.captured, ...) seen on the broker, and CPU per checkout of every process, the broker, PostgreSQL
  and the whole machine;
* an open-loop steady rate (100/s by default): p50/p99 from sending the POST to the outcome event, and CPU per
  checkout at that rate with how busy the machine was (one checkout at a time costs more than a burst);

then, for Warren alone: GET /healthz on payment at the same client concurrency (HTTP and client cost alone), a
steady phase at a share of the measured throughput, and (``--profile``) py-spy samples of every service during
that phase, whose hottest frames are printed.

Run: ``make bench`` or ``.venv/bin/python bench/bench_checkout.py --backend sqlite --count 300``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import uvloop
from aiohttp import ClientSession, TCPConnector

from shared.messaging.management import ManagementClient
from shared.testing.fixtures import AMQP_BASE, MANAGEMENT_URL, POSTGRES_BASE
from shared.testing.processes import ServiceProcess, free_port

OUTCOMES = ("captured", "declined", "rejected", "cancelled", "failed")


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def cpu_seconds(process: ServiceProcess) -> float:
    """User + system CPU time the process has used so far (Linux /proc)."""
    assert process.process is not None
    fields = Path(f"/proc/{process.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(command: str) -> float:
    """CPU seconds used so far by every process named ``command`` (the broker's beam.smp, postgres backends)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited meanwhile
        name, rest = text.split(" (", 1)[1].rsplit(")", 1)
        if name == command:
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> float:
    """CPU seconds the whole machine spent busy (all cores, /proc/stat: everything but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class OutcomeListener:
    """Records when each payment's outcome event reaches the broker (a queue bound to payment.events)."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[float, str]] = {}
        self.changed = asyncio.Event()

    async def start(self, stack: AsyncExitStack, amqp_url: str) -> None:
        connection = await aio_pika.connect_robust(amqp_url)
        stack.push_async_callback(connection.close)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=500)
        exchange = await channel.get_exchange("payment.events", ensure=True)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for outcome in OUTCOMES:
            await queue.bind(exchange, f"payment.{outcome}")
        await queue.consume(self._on_message, no_ack=True)

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        payment_id = json.loads(message.body)["payment_id"]
        self.seen.setdefault(payment_id, (time.perf_counter(), (message.routing_key or "").split(".")[-1]))
        self.changed.set()

    async def wait_for(self, ids: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not all(i in self.seen for i in ids):
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = sum(i not in self.seen for i in ids)
                raise TimeoutError(f"{missing} of {len(ids)} checkouts had no outcome within {timeout}s")
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=min(remaining, 1.0))
            except TimeoutError:
                continue


class Imitation:
    """Stands in for fraud and inventory (``--payment-only``): answers every payment.requested with
    fraud.assessed (approved) and inventory.reserved, so the figures are payment's alone."""

    async def start(self, stack: AsyncExitStack, amqp_url: str) -> None:
        connection = await aio_pika.connect_robust(amqp_url)
        stack.push_async_callback(connection.close)
        channel = await connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=200)
        self._fraud = await channel.declare_exchange(
            "fraud.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        self._inventory = await channel.declare_exchange(
            "inventory.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        payment_events = await channel.get_exchange("payment.events", ensure=True)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(payment_events, "payment.requested")
        await queue.consume(self._answer, no_ack=True)

    async def _answer(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        payment_id = json.loads(message.body)["payment_id"]
        for exchange, fact, body in (
            (self._fraud, "fraud.assessed", {"payment_id": payment_id, "decision": "approved", "score": 1}),
            (
                self._inventory,
                "inventory.reserved",
                {"payment_id": payment_id, "reservation_id": payment_id, "items": []},
            ),
        ):
            answer = aio_pika.Message(
                json.dumps(body).encode(),
                message_id=str(uuid.uuid4()),
                type=f"{fact}.v1",
                correlation_id=message.correlation_id,
                app_id=fact.split(".")[0],
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            await exchange.publish(answer, routing_key=fact)


def checkout_body(n: int) -> dict[str, Any]:
    return {
        "order_id": f"bench-{n}",
        # A customer per checkout: fraud's velocity rule would send repeat customers to review.
        "customer": {"id": f"cust-{uuid.uuid4().hex[:12]}", "email": "bench@example.com", "country": "GB"},
        "items": [{"sku": "bench", "quantity": 1, "unit_amount": 1999}],
        "currency": "EUR",
        "payment_method": {"token": "tok_visa"},
    }


async def post_checkout(client: ClientSession, url: str, n: int) -> tuple[str, float]:
    sent = time.perf_counter()
    async with client.post(
        f"{url}/payments", json=checkout_body(n), headers={"Idempotency-Key": str(uuid.uuid4())}
    ) as response:
        response.raise_for_status()
        return (await response.json())["payment_id"], sent


async def baseline(client: ClientSession, url: str, count: int, concurrency: int) -> tuple[float, float]:
    limit = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one() -> None:
        async with limit:
            started = time.perf_counter()
            async with client.get(f"{url}/healthz") as response:
                response.raise_for_status()
                await response.read()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - started), percentile(latencies, 0.99)


async def throughput(
    client: ClientSession, url: str, listener: OutcomeListener, count: int, concurrency: int
) -> tuple[float, collections.Counter[str]]:
    limit = asyncio.Semaphore(concurrency)

    async def one(n: int) -> tuple[str, float]:
        async with limit:
            return await post_checkout(client, url, n)

    started = time.perf_counter()
    posted = await asyncio.gather(*(one(n) for n in range(count)))
    ids = [payment_id for payment_id, _ in posted]
    await listener.wait_for(ids, timeout=300)
    finished = max(listener.seen[i][0] for i in ids)
    return count / (finished - started), collections.Counter(listener.seen[i][1] for i in ids)


async def steady(
    client: ClientSession, url: str, listener: OutcomeListener, rate: float, seconds: float
) -> tuple[list[float], float]:
    count = int(rate * seconds)
    started = time.perf_counter()
    tasks: list[asyncio.Task[tuple[str, float]]] = []
    for n in range(count):
        # Open loop: send on schedule whatever the system's answers, so slowness shows as latency.
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(post_checkout(client, url, 1_000_000 + n)))
    posted = await asyncio.gather(*tasks)
    achieved = count / (time.perf_counter() - started)
    ids = [payment_id for payment_id, _ in posted]
    await listener.wait_for(ids, timeout=300)
    return [listener.seen[i][0] - sent for i, sent in posted], achieved


async def settled(client: ClientSession, inventory_url: str | None, timeout: float = 120.0) -> None:
    """Wait until inventory holds no reservation, so a phase does not start while the previous one's tail
    (commits of captured reservations, their stock.committed answers) still runs. No-op with --payment-only."""
    if inventory_url is None:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with client.get(f"{inventory_url}/stock/bench") as response:
            response.raise_for_status()
            if (await response.json())["reserved"] == 0:
                return
        await asyncio.sleep(0.1)  # polling a condition with a deadline
    raise TimeoutError(f"inventory still held reservations after {timeout}s")


def start_profilers(
    processes: list[ServiceProcess], seconds: float, workdir: Path
) -> list[subprocess.Popen[bytes]]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("   (py-spy not installed: pip install py-spy; no profile)")
        return []
    profilers = []
    for process in processes:
        assert process.process is not None
        output = workdir / f"{process.module}.profile.txt"
        profilers.append(
            subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(process.process.pid),
                    "--duration",
                    str(int(seconds)),
                    "--rate",
                    "50",
                    "--format",
                    "raw",
                    "--output",
                    str(output),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return profilers


def _frame(frame: str) -> tuple[str, str]:
    """``func (path/file.py:12)`` -> (function, package-relative file)."""
    function, _, location = frame.partition(" (")
    path = location.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/services/", "/devtools/", "/wt/payment/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return function, path


def summarise_profile(path: Path, top: int = 10) -> list[str]:
    """Collapsed stacks -> where the CPU went: self samples per package, and our own hottest frames."""
    if not path.exists():
        return ["   (no samples)"]
    by_package: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    hottest: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame(f) for f in stack.split(";")]
        function, file = frames[-1]
        package = file.split("/", 1)[0] if "/" in file else file
        if function in {"select", "poll"} or "selectors" in file:
            package = "(idle: waiting for I/O)"
        elif function in {"run", "Runner.run"} and file.endswith("asyncio/runners.py"):
            # uvloop: the loop is C, so its own work and its waiting for I/O show as the frame that runs it.
            package = "(uvloop: event loop and waiting for I/O)"
        by_package[package] += count
        hottest[f"{function} ({file})"] += count
        for function, file in {f for f in frames if f[1].startswith(("payment/", "shared/"))}:
            ours[f"{function} ({file})"] += count
    lines = ["   self time by package:"]
    lines += [f"   {100 * c / total:5.1f}%  {name}" for name, c in by_package.most_common(top)]
    # Self time of a pure-Python frame includes the C calls it makes (a socket send shows as asyncio's).
    lines.append("   hottest frames (self):")
    lines += [f"   {100 * c / total:5.1f}%  {name}" for name, c in hottest.most_common(top)]
    lines.append("   our frames (inclusive):")
    lines += [f"   {100 * c / total:5.1f}%  {name}" for name, c in ours.most_common(top)]
    return lines


BENCH_DIR = Path(__file__).resolve().parent


class Environment:
    """A fresh vhost and fresh databases (SQLite files in ``workdir``), removed when ``stack`` closes."""

    def __init__(self, stack: AsyncExitStack, admin: ManagementClient, backend: str, workdir: Path) -> None:
        self.stack, self.admin, self.backend, self.workdir = stack, admin, backend, workdir

    async def amqp_url(self, label: str) -> str:
        vhost = f"bench-{label}-{uuid.uuid4().hex[:8]}"
        await self.admin.create_vhost(vhost)
        await self.admin.set_permissions(vhost, "guest")
        self.stack.push_async_callback(self.admin.delete_vhost, vhost)
        return f"{AMQP_BASE.rstrip('/')}/{vhost}"

    async def database(self, label: str) -> str:
        """A plain DSN: ``sqlite:///path`` or ``postgresql://.../name``."""
        if self.backend == "sqlite":
            return f"sqlite:///{self.workdir / f'{label}.db'}"
        name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(f"{POSTGRES_BASE}/postgres")
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()

        async def drop() -> None:
            conn = await asyncpg.connect(f"{POSTGRES_BASE}/postgres")
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()

        self.stack.push_async_callback(drop)
        return f"{POSTGRES_BASE}/{name}"


class CpuMeter:
    """CPU used from now on by the given processes, the bench client, the broker, PostgreSQL and the machine."""

    def __init__(self, processes: dict[str, ServiceProcess]) -> None:
        self._processes = processes
        self._cpu = {name: cpu_seconds(p) for name, p in processes.items()}
        self._infra = {name: cpu_of(name) for name in ("beam.smp", "postgres")}
        self._machine = machine_cpu()
        self._client = time.process_time()
        self._started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self._started

    def per_checkout(self, count: int) -> tuple[dict[str, float], float, dict[str, float], float]:
        """Milliseconds per checkout: each process, the client, the broker and PostgreSQL, the whole machine."""
        per = 1000 / count
        cpu_ms = {name: per * (cpu_seconds(p) - self._cpu[name]) for name, p in self._processes.items()}
        client_ms = per * (time.process_time() - self._client)
        infra_ms = {name: per * (cpu_of(name) - before) for name, before in self._infra.items()}
        return cpu_ms, client_ms, infra_ms, per * (machine_cpu() - self._machine)


@dataclass
class Suite:
    """One running implementation of the checkout (bare or Warren) and its outcome listener."""

    name: str
    processes: dict[str, ServiceProcess]
    amqp_url: str
    inventory_url: str | None
    listener: OutcomeListener = field(default_factory=OutcomeListener)

    @property
    def payment_url(self) -> str:
        return self.processes["payment"].url


async def start_bare(
    env: Environment, args: argparse.Namespace, gateway: ServiceProcess, workdir: Path
) -> Suite:
    """bench/bare_checkout.py's three processes in their own vhost and databases."""
    amqp_url = await env.amqp_url("bare")
    path = os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")]))
    processes: dict[str, ServiceProcess] = {"gateway_sandbox": gateway}
    for role in ("fraud", "inventory", "payment"):
        port = free_port()
        options = ["--amqp", amqp_url, "--database", await env.database(f"bare_{role}"), "--port", str(port)]
        options += ["--gateway", gateway.url, "--seed", "bench=10000000"]
        processes[role] = ServiceProcess(
            "bare_checkout",
            port,
            {"PYTHONPATH": path},
            workdir / f"bare_{role}.log",
            args=(role, *options),
            ready_path="/healthz",
        )
    started = [processes[role] for role in ("fraud", "inventory", "payment")]
    for process in started:
        env.stack.push_async_callback(process.stop)
    await asyncio.gather(*(p.start() for p in started))
    suite = Suite("bare", processes, amqp_url, processes["inventory"].url)
    await suite.listener.start(env.stack, amqp_url)
    return suite


async def start_warren(
    env: Environment, args: argparse.Namespace, gateway: ServiceProcess, client: ClientSession, workdir: Path
) -> Suite:
    """fraud, inventory and payment (or payment alone, with the bench answering for the others)."""
    amqp_url = await env.amqp_url("checkout")
    services = []
    modules = ("payment",) if args.payment_only else ("fraud", "inventory", "payment")
    for module in modules:
        prefix, port = module.upper(), free_port()
        database = await env.database(module)
        database = database.replace("sqlite:///", "sqlite+aiosqlite:///", 1)
        database = database.replace("postgresql://", "postgresql+asyncpg://", 1)
        environment = {
            f"{prefix}_AMQP_URL": amqp_url,
            f"{prefix}_DATABASE_URL": database,
            f"{prefix}_HTTP_PORT": str(port),
            f"{prefix}_LOG_LEVEL": "WARNING",
            "PAYMENT_GATEWAY_URL": gateway.url,
        }
        services.append(ServiceProcess(module, port, environment, workdir / f"{module}.log"))
    await asyncio.gather(*(s.run("migrate") for s in services))
    for process in services:
        env.stack.push_async_callback(process.stop)
    await asyncio.gather(*(p.start() for p in services))
    if args.payment_only:
        await Imitation().start(env.stack, amqp_url)
    else:
        stock = {"available": 10_000_000}
        async with client.put(f"{services[1].url}/stock/bench", json=stock) as response:
            response.raise_for_status()
    inventory_url = None if args.payment_only else services[1].url
    processes = {"gateway_sandbox": gateway, **{p.module: p for p in services}}
    suite = Suite("Warren", processes, amqp_url, inventory_url)
    await suite.listener.start(env.stack, amqp_url)
    return suite


async def throughput_round(client: ClientSession, suite: Suite, args: argparse.Namespace) -> dict[str, Any]:
    """One throughput phase with CPU per checkout; starts once the previous phase's tail has settled."""
    await settled(client, suite.inventory_url)
    meter = CpuMeter(suite.processes)
    rate, outcomes = await throughput(client, suite.payment_url, suite.listener, args.count, args.concurrency)
    cpu_ms, client_ms, infra_ms, machine_ms = meter.per_checkout(args.count)
    return {
        "rate": rate,
        "outcomes": dict(outcomes),
        "cpu_ms": cpu_ms,
        "client_ms": client_ms,
        "infra_ms": infra_ms,
        "machine_ms": machine_ms,
    }


def describe_round(suite: Suite, figures: dict[str, Any]) -> list[str]:
    cpu_ms, infra_ms, client_ms = figures["cpu_ms"], figures["infra_ms"], figures["client_ms"]
    total = sum(cpu_ms.values())
    return [
        f"   {suite.name}: {figures['rate']:.1f} checkouts/s ({sum(figures['outcomes'].values())} checkouts, "
        f"{figures['outcomes']})",
        "     CPU per checkout: "
        + ", ".join(f"{name} {ms:.1f} ms" for name, ms in cpu_ms.items())
        + f"; total {total:.1f} ms (the bench client itself: {client_ms:.1f} ms)",
        # Where the rest of the machine's time went: the broker, the database (PostgreSQL backends that live as
        # long as the pools; on SQLite this is ~0), and what is left (kernel, other processes).
        f"     whole machine per checkout: {figures['machine_ms']:.1f} ms busy = services {total:.1f} + client "
        f"{client_ms:.1f} + RabbitMQ {infra_ms['beam.smp']:.1f} + PostgreSQL {infra_ms['postgres']:.1f}"
        f" + other {figures['machine_ms'] - total - client_ms - sum(infra_ms.values()):.1f} ms",
    ]


async def steady_phase(client: ClientSession, suite: Suite, rate: float, seconds: float) -> dict[str, Any]:
    """An open-loop phase at ``rate``: latency, and CPU per checkout with how busy the machine was."""
    await settled(client, suite.inventory_url)
    meter = CpuMeter(suite.processes)
    latencies, achieved = await steady(client, suite.payment_url, suite.listener, rate, seconds)
    cpu_ms, _, _, machine_ms = meter.per_checkout(len(latencies))
    busy = machine_ms * len(latencies) / (1000 * meter.elapsed() * (os.cpu_count() or 1))
    return {
        "rate": rate,
        "achieved": achieved,
        "p50_ms": 1000 * percentile(latencies, 0.5),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "max_ms": 1000 * max(latencies),
        "cpu_ms": cpu_ms,
        "machine_ms": machine_ms,
        "busy": busy,
    }


def describe_steady(suite: Suite, figures: dict[str, Any], seconds: float) -> str:
    # One message at a time costs more than a burst (no batching in relays, a wake-up per message): this is the
    # machine's CPU per checkout that decides whether the rate holds.
    cpu = figures["cpu_ms"]
    return (
        f"   {suite.name} at {figures['rate']:.0f}/s for {seconds:.0f}s (sent at {figures['achieved']:.1f}/s): "
        f"p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms, max {figures['max_ms']:.0f} ms;"
        f" CPU per checkout: services {sum(cpu.values()):.1f} ms"
        f" ({', '.join(f'{name} {ms:.1f}' for name, ms in cpu.items())}), whole machine"
        f" {figures['machine_ms']:.1f} ms, machine {figures['busy']:.0%} busy"
    )


async def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n== backend: {backend}")
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-checkout-{backend}-"))
    async with AsyncExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)  # runs last, after the processes stopped
        admin = await stack.enter_async_context(ManagementClient(MANAGEMENT_URL))
        env = Environment(stack, admin, backend, workdir)
        # One gateway sandbox for both suites: its CPU counts in each one's figures.
        gateway_port = free_port()
        gateway = ServiceProcess(
            "gateway_sandbox",
            gateway_port,
            {"GATEWAY_SANDBOX_PORT": str(gateway_port)},
            workdir / "gateway.log",
        )
        stack.push_async_callback(gateway.stop)
        await gateway.start()
        # aiohttp, not httpx: the client shares the two cores with the suite, and aiohttp's C parser costs a
        # fraction of httpx's CPU per request. Idle connections are dropped before uvicorn's (5 s) timeout,
        # so a phase never sends on a connection the server is closing.
        client = await stack.enter_async_context(
            ClientSession(connector=TCPConnector(limit=args.concurrency, keepalive_timeout=2))
        )
        # Both suites run side by side (an idle one costs nothing) and take turns, so a drift in the machine's
        # speed during the run (seen here: 30 % between runs minutes apart) falls on both alike.
        suites = []
        if args.bare and not args.payment_only:
            suites.append(await start_bare(env, args, gateway, workdir))
        warren = await start_warren(env, args, gateway, client, workdir)
        suites.append(warren)
        for suite in suites:  # warm-up
            await throughput(client, suite.payment_url, suite.listener, 20, args.concurrency)

        rounds: dict[str, list[dict[str, Any]]] = {suite.name: [] for suite in suites}
        for number in range(args.rounds):
            order = suites if number % 2 == 0 else suites[::-1]
            for suite in order:
                rounds[suite.name].append(await throughput_round(client, suite, args))
            line = ", ".join(f"{s.name} {rounds[s.name][-1]['rate']:.1f}/s" for s in suites)
            if len(suites) == 2:
                line += f": Warren at {rounds['Warren'][-1]['rate'] / rounds['bare'][-1]['rate']:.3f} of bare"
            print(f"   round {number + 1}: {line}")
        medians: dict[str, dict[str, Any]] = {}
        for suite in suites:
            ordered = sorted(rounds[suite.name], key=lambda r: r["rate"])
            medians[suite.name] = ordered[len(ordered) // 2]
            print("\n".join(describe_round(suite, medians[suite.name])))
        ratios = (
            sorted(w["rate"] / b["rate"] for w, b in zip(rounds["Warren"], rounds["bare"], strict=True))
            if len(suites) == 2
            else []
        )
        if ratios:
            print(f"   Warren's throughput over bare's, per round: {', '.join(f'{r:.3f}' for r in ratios)}")

        steady_figures = {}
        for suite in suites:
            steady_figures[suite.name] = await steady_phase(client, suite, args.rate, args.duration)
            print(describe_steady(suite, steady_figures[suite.name], args.duration))

        base_rate, base_p99 = await baseline(client, warren.payment_url, 1000, args.concurrency)
        print(f"   GET /healthz on Warren's payment: {base_rate:8.1f} req/s, p99 {1000 * base_p99:.1f} ms")
        # The same at a rate the suite keeps up with on this machine: latency without a growing backlog.
        easy_rate = max(1.0, min(args.rate, args.sustained_fraction * medians["Warren"]["rate"]))
        # Profiled here, not at the overloaded rate: py-spy samples wall-clock stacks, and a process waiting in
        # the run queue shows as busy in whatever frame it was preempted (a loopback socket write that woke
        # its peer), which hides where the CPU actually goes.
        profile_dir = Path(args.profile_dir) / backend if args.profile_dir else workdir
        profile_dir.mkdir(parents=True, exist_ok=True)
        services = [p for name, p in warren.processes.items() if name != "gateway_sandbox"]
        profilers = start_profilers(services, args.duration, profile_dir) if args.profile else []
        easy = await steady_phase(client, warren, easy_rate, args.duration)
        for profiler in profilers:
            profiler.wait(timeout=60)
        print(
            describe_steady(warren, easy, args.duration)
            + f" ({args.sustained_fraction:.0%} of the throughput)"
        )
        if profilers:
            for process in services:
                print(f"   profile of {process.module} at {easy_rate:.0f}/s (share of samples):")
                print("\n".join(summarise_profile(profile_dir / f"{process.module}.profile.txt")))
        return {
            "backend": backend,
            "medians": medians,
            "ratios": ratios,
            "steady": steady_figures,
            "easy": easy,
        }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--count", type=int, default=500, help="checkouts in the throughput phase")
    parser.add_argument("--concurrency", type=int, default=64, help="checkouts in flight (throughput phase)")
    parser.add_argument("--rate", type=float, default=100.0, help="checkouts/s in the steady phase")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of each steady phase")
    parser.add_argument(
        "--sustained-fraction",
        type=float,
        default=0.6,
        help="second steady phase: this share of the throughput",
    )
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--profile-dir",
        help="keep py-spy raw stacks here (<backend>/<service>.profile.txt), not in a temp dir",
    )
    parser.add_argument(
        "--bare",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run bench/bare_checkout.py, the hand-written floor (skipped with --payment-only)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="throughput rounds per suite, taken in turns (median reported)"
    )
    parser.add_argument(
        "--payment-only",
        action="store_true",
        help="run payment alone; the bench answers for fraud and inventory",
    )
    args = parser.parse_args()
    print(f"bench_checkout on {machine()}")
    backends = ["postgres", "sqlite"] if args.backend == "both" else [args.backend]
    results = [await run_backend(backend, args) for backend in backends]
    print(
        f"\nbackend    run     checkouts/s  Warren/bare  CPU ms/checkout  Warren/bare"
        f"  at {args.rate:.0f}/s: p50 / p99 ms, machine ms/checkout  at the sustained rate: p50 / p99 ms"
    )
    for r in results:
        bare = r["medians"].get("bare")
        for name in ("bare", "Warren"):
            figures = r["medians"].get(name)
            if figures is None:
                continue
            cpu = sum(figures["cpu_ms"].values())
            rate_ratio = cpu_ratio = ""
            if name == "Warren" and bare is not None:
                rate_ratio = f"{r['ratios'][len(r['ratios']) // 2]:.3f}"
                cpu_ratio = f"{cpu / sum(bare['cpu_ms'].values()):.2f}"
            steady_ = r["steady"][name]
            easy = (
                f"  {r['easy']['p50_ms']:5.0f} / {r['easy']['p99_ms']:<5.0f} at {r['easy']['rate']:.0f}/s"
                if name == "Warren"
                else ""
            )
            print(
                f"{r['backend']:<10} {name:<7} {figures['rate']:11.1f}  {rate_ratio:>11}  {cpu:15.1f}  {cpu_ratio:>11}"
                f"  {steady_['p50_ms']:6.0f} / {steady_['p99_ms']:<6.0f} {steady_['machine_ms']:5.1f}{easy}"
            )


if __name__ == "__main__":
    # The client on uvloop too, as the services are: less of the machine goes to the bench itself.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
