"""A Celery task dispatched through the outbox is executed by a real ``celery worker`` process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from aio_pika.abc import AbstractRobustConnection

from shared.messaging.connection import connect
from shared.messaging.envelope import Envelope
from shared.messaging.management import ManagementClient
from shared.outbox import admin
from shared.outbox.relay import OutboxRelay, RelaySettings
from shared.persistence.engine import create_engine
from shared.testing.outbox import ProbeUnitOfWork, create_tables
from shared.testing.waiting import wait_for

pytestmark = pytest.mark.integration

QUEUE = "probe.tasks"

CELERY_APP = """
    import os
    from pathlib import Path

    from celery import Celery

    app = Celery("probe", broker=os.environ["PROBE_BROKER"])
    app.conf.update(accept_content=["json"], worker_hijack_root_logger=False)


    @app.task(name="probe.write_file", bind=True)
    def write_file(self, name, content, suffix=""):
        out = Path(os.environ["PROBE_OUT"]) / name
        out.write_text(f"{content}{suffix}|{self.request.id}|{self.request.root_id}")
"""


@pytest.fixture
def worker(tmp_path: Path, amqp_url: str) -> Iterator[Path]:
    (tmp_path / "probe_celery_app.py").write_text(textwrap.dedent(CELERY_APP))
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PROBE_BROKER": amqp_url, "PROBE_OUT": str(out)}
    celery = Path(sys.executable).with_name("celery")
    process = subprocess.Popen(
        [
            str(celery),
            "-A",
            "probe_celery_app",
            "worker",
            "-Q",
            QUEUE,
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=tmp_path,
        env=env,
    )
    try:
        yield out
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_celery_worker_runs_the_task_when_its_dispatch_is_relayed(
    worker: Path, sqlite_url: str, amqp_url: str, vhost: str, rabbit_admin: ManagementClient
) -> None:
    async def worker_consumes() -> bool:
        queues = {q["name"]: q for q in await rabbit_admin.queues(vhost)}
        return QUEUE in queues and queues[QUEUE].get("consumers", 0) >= 1

    await wait_for(worker_consumes, timeout=60, message="celery worker consuming")
    engine = create_engine(sqlite_url)
    await create_tables(engine)
    connection: AbstractRobustConnection = await connect(amqp_url, connection_name="test-outbox-celery")
    try:
        incoming = Envelope(
            type="payment.captured.v1", correlation_id="corr-c", producer="payment", payload={}
        )
        uow = ProbeUnitOfWork(engine)
        async with uow.handling(incoming, handler="probe.on_captured"):
            uow.dispatch_task(
                "probe.write_file", args=["receipt.txt", "paid"], kwargs={"suffix": "!"}, queue=QUEUE
            )
            await uow.commit()
        relay = OutboxRelay(engine, connection, settings=RelaySettings(poll_interval=0.2))
        assert await relay.run_once() == 1
        written = worker / "receipt.txt"
        await wait_for(written.exists, timeout=30, message="task executed")
        content, task_id, root_id = written.read_text().split("|")
        assert content == "paid!"
        assert task_id == root_id
        assert (await admin.outbox_stats(engine)).sent == 1
    finally:
        await connection.close()
        await engine.dispose()
