import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from shared.observability.logging import configure_logging, correlation_scope, current_correlation_id


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    yield buffer
    root.handlers[:] = before[0]
    root.setLevel(before[1])


def test_each_line_names_the_service_and_correlation_id_when_bound(stream: io.StringIO) -> None:
    configure_logging("payment", "INFO", stream=stream)
    with correlation_scope("order-42"):
        logging.getLogger("payment.handlers").info("charged")
    logging.getLogger("payment.handlers").info("idle")
    first, second = stream.getvalue().splitlines()
    assert "payment [order-42] payment.handlers: charged" in first
    assert "payment [-] payment.handlers: idle" in second


def test_explicit_correlation_id_wins_when_passed_as_extra(stream: io.StringIO) -> None:
    configure_logging("fraud", stream=stream)
    with correlation_scope("outer"):
        logging.getLogger("x").warning("m", extra={"correlation_id": "inner"})
    assert "[inner]" in stream.getvalue()


def test_level_from_settings_filters_lines_when_configured(stream: io.StringIO) -> None:
    configure_logging("inventory", "warning", stream=stream)
    logging.getLogger("x").info("hidden")
    logging.getLogger("x").warning("shown")
    assert stream.getvalue().count("\n") == 1
    assert "shown" in stream.getvalue()


def test_configuring_twice_keeps_one_handler_when_called_again(stream: io.StringIO) -> None:
    configure_logging("payment", stream=stream)
    configure_logging("payment", stream=stream)
    logging.getLogger("x").warning("once")
    assert stream.getvalue().count("once") == 1


def test_json_lines_carry_service_and_correlation_when_json_format_is_chosen(stream: io.StringIO) -> None:
    configure_logging("notification", log_format="json", stream=stream)
    with correlation_scope("c-9"):
        logging.getLogger("n").error("failed")
    entry = json.loads(stream.getvalue())
    assert (entry["service"], entry["correlation_id"], entry["message"]) == ("notification", "c-9", "failed")


async def test_correlation_id_stays_task_local_when_tasks_interleave() -> None:
    bound = {"a": asyncio.Event(), "b": asyncio.Event()}

    async def work(cid: str, other: str) -> str | None:
        with correlation_scope(cid):
            bound[cid].set()
            await bound[other].wait()  # both ids are bound at the same time here
            return current_correlation_id()

    assert await asyncio.gather(work("a", "b"), work("b", "a")) == ["a", "b"]
    assert current_correlation_id() is None


def test_service_main_sets_up_logging_with_the_service_level_when_a_service_starts(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.runtime.cli import service_main

    monkeypatch.setenv("PAYMENT_LOG_LEVEL", "WARNING")
    seen: list[int] = []

    def migrate() -> None:
        seen.append(logging.getLogger().level)
        logging.getLogger("payment.migrations").warning("migrated")

    monkeypatch.setattr("sys.stderr", stream)
    service_main("payment", serve=_never, migrate=migrate, argv=["migrate"])
    assert seen == [logging.WARNING]
    assert "payment [-] payment.migrations: migrated" in stream.getvalue()


async def _never() -> None:
    raise AssertionError("serve must not run for `migrate`")
