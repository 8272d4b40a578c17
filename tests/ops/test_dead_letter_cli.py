"""`warren dlq ...` against the real broker: list, show, replay (one, filtered, all), purge."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest
from typer.testing import CliRunner

from shared.messaging import headers as h
from shared.testing.fixtures import MANAGEMENT_URL
from warrenctl.app import app

pytestmark = pytest.mark.integration

SOURCE = "payment.on_fraud"
DLQ = "payment.on_fraud.dlq"
QUORUM = {"x-queue-type": "quorum"}


def _dead_letter(message_type: str, reason: str, dead_for: timedelta) -> aio_pika.Message:
    when = datetime.now(UTC) - dead_for
    return aio_pika.Message(
        body=b'{"payment_id": "p-1"}',
        message_id=str(uuid.uuid4()),
        type=message_type,
        correlation_id="order-1",
        app_id="fraud",
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers={
            h.REASON: reason,
            h.FAILURE_CLASS: "permanent",
            h.ATTEMPTS: 3,
            h.ORIGINAL_QUEUE: SOURCE,
            h.DEAD_LETTERED_AT: when.isoformat(),
            "causation_id": "cause-1",
        },
    )


async def _seed(url: str, messages: list[aio_pika.Message]) -> None:
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(SOURCE, durable=True, arguments=QUORUM)
        await channel.declare_queue(DLQ, durable=True, arguments=QUORUM)
        for message in messages:
            await channel.default_exchange.publish(message, routing_key=DLQ)


async def _take_all(url: str, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        broker_queue = await channel.get_queue(queue, ensure=False)
        taken = []
        while (message := await broker_queue.get(no_ack=True, fail=False)) is not None:
            taken.append(message)
        return taken


@pytest.fixture
def cli(amqp_url: str, vhost: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("WARREN_AMQP_URL", amqp_url)
    monkeypatch.setenv("WARREN_MANAGEMENT_URL", MANAGEMENT_URL)
    monkeypatch.setenv("WARREN_MANAGEMENT_USER", "guest")
    monkeypatch.setenv("WARREN_MANAGEMENT_PASSWORD", "guest")
    monkeypatch.setenv("WARREN_VHOST", vhost)
    monkeypatch.setenv("COLUMNS", "250")
    return CliRunner()


def test_list_shows_reason_attempts_and_age_when_a_queue_has_dead_letters(
    cli: CliRunner, amqp_url: str
) -> None:
    asyncio.run(
        _seed(amqp_url, [_dead_letter("fraud.assessed.v1", "amount is not an integer", timedelta(minutes=7))])
    )
    result = cli.invoke(app, ["dlq", "list"])
    assert result.exit_code == 0, result.output
    assert DLQ in result.output
    assert "amount is not an integer" in result.output
    assert "7m" in result.output
    assert SOURCE in result.output
    # Listing leaves the messages where they were.
    assert len(asyncio.run(_take_all(amqp_url, DLQ))) == 1


def test_show_prints_headers_and_body_when_given_a_message_id(cli: CliRunner, amqp_url: str) -> None:
    letter = _dead_letter("fraud.assessed.v1", "boom", timedelta(seconds=5))
    asyncio.run(_seed(amqp_url, [letter]))
    result = cli.invoke(app, ["dlq", "show", DLQ, str(letter.message_id)])
    assert result.exit_code == 0, result.output
    assert '"payment_id": "p-1"' in result.output
    assert "cause-1" in result.output


def test_replay_returns_one_message_with_its_id_to_the_original_queue_when_selected_by_id(
    cli: CliRunner, amqp_url: str
) -> None:
    chosen = _dead_letter("fraud.assessed.v1", "boom", timedelta(seconds=5))
    other = _dead_letter("fraud.assessed.v1", "boom", timedelta(seconds=5))
    asyncio.run(_seed(amqp_url, [chosen, other]))
    result = cli.invoke(app, ["dlq", "replay", DLQ, "--id", str(chosen.message_id)])
    assert result.exit_code == 0, result.output
    replayed = asyncio.run(_take_all(amqp_url, SOURCE))
    assert [m.message_id for m in replayed] == [chosen.message_id]
    message = replayed[0]
    assert (message.type, message.correlation_id, message.body) == (
        "fraud.assessed.v1",
        "order-1",
        chosen.body,
    )
    assert message.headers["causation_id"] == "cause-1"
    assert h.REASON not in message.headers  # the retry bookkeeping starts afresh
    assert message.headers["x-warren-replays"] == 1
    assert [m.message_id for m in asyncio.run(_take_all(amqp_url, DLQ))] == [other.message_id]


def test_replay_moves_only_matching_messages_when_filtered_by_type_reason_and_age(
    cli: CliRunner, amqp_url: str
) -> None:
    old_timeout = _dead_letter("fraud.assessed.v1", "gateway timeout", timedelta(hours=2))
    new_timeout = _dead_letter("fraud.assessed.v1", "gateway timeout", timedelta(seconds=10))
    old_invalid = _dead_letter("fraud.assessed.v1", "validation error", timedelta(hours=2))
    old_other_type = _dead_letter("inventory.reserved.v1", "gateway timeout", timedelta(hours=2))
    asyncio.run(_seed(amqp_url, [old_timeout, new_timeout, old_invalid, old_other_type]))
    result = cli.invoke(
        app, ["dlq", "replay", DLQ, "--type", "fraud.*", "--reason", "TIMEOUT", "--older-than", "1h"]
    )
    assert result.exit_code == 0, result.output
    assert [m.message_id for m in asyncio.run(_take_all(amqp_url, SOURCE))] == [old_timeout.message_id]
    left = {m.message_id for m in asyncio.run(_take_all(amqp_url, DLQ))}
    assert left == {new_timeout.message_id, old_invalid.message_id, old_other_type.message_id}


def test_replay_refuses_when_no_selection_is_given(cli: CliRunner, amqp_url: str) -> None:
    asyncio.run(_seed(amqp_url, [_dead_letter("fraud.assessed.v1", "boom", timedelta(seconds=1))]))
    result = cli.invoke(app, ["dlq", "replay", DLQ])
    assert result.exit_code == 2
    assert len(asyncio.run(_take_all(amqp_url, DLQ))) == 1


def test_replay_all_empties_the_dead_letter_queue_when_asked_for_all(cli: CliRunner, amqp_url: str) -> None:
    letters = [_dead_letter("fraud.assessed.v1", "boom", timedelta(seconds=1)) for _ in range(3)]
    asyncio.run(_seed(amqp_url, letters))
    result = cli.invoke(app, ["dlq", "replay", DLQ, "--all"])
    assert result.exit_code == 0, result.output
    assert sorted(m.message_id for m in asyncio.run(_take_all(amqp_url, SOURCE))) == sorted(
        str(m.message_id) for m in letters
    )
    assert asyncio.run(_take_all(amqp_url, DLQ)) == []


def test_purge_keeps_messages_when_the_operator_does_not_confirm(cli: CliRunner, amqp_url: str) -> None:
    asyncio.run(_seed(amqp_url, [_dead_letter("fraud.assessed.v1", "boom", timedelta(seconds=1))]))
    result = cli.invoke(app, ["dlq", "purge", DLQ], input="n\n")
    assert result.exit_code == 1
    assert len(asyncio.run(_take_all(amqp_url, DLQ))) == 1


def test_purge_empties_the_queue_when_confirmed(cli: CliRunner, amqp_url: str) -> None:
    asyncio.run(_seed(amqp_url, [_dead_letter("fraud.assessed.v1", "boom", timedelta(seconds=1))] * 2))
    result = cli.invoke(app, ["dlq", "purge", DLQ], input="y\n")
    assert result.exit_code == 0, result.output
    assert "purged 2" in result.output
    assert asyncio.run(_take_all(amqp_url, DLQ)) == []


async def _broker_dead_letter(url: str) -> str:
    """A message the broker itself dead-lettered (rejected without requeue): only x-death tells its story."""
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        dlx = await channel.declare_exchange(
            "payment.dead-letter", aio_pika.ExchangeType.DIRECT, durable=True
        )
        dlq = await channel.declare_queue(DLQ, durable=True, arguments=QUORUM)
        await dlq.bind(dlx, DLQ)
        source = await channel.declare_queue(
            SOURCE,
            durable=True,
            arguments={
                **QUORUM,
                "x-dead-letter-exchange": "payment.dead-letter",
                "x-dead-letter-routing-key": DLQ,
            },
        )
        message_id = str(uuid.uuid4())
        await channel.default_exchange.publish(
            aio_pika.Message(b"{}", message_id=message_id, type="fraud.assessed.v1"), routing_key=SOURCE
        )
        delivered = await source.get(timeout=5)
        await delivered.reject(requeue=False)
        return message_id


def test_broker_dead_letters_show_the_broker_reason_and_replay_to_their_queue(
    cli: CliRunner, amqp_url: str
) -> None:
    message_id = asyncio.run(_broker_dead_letter(amqp_url))
    listing = cli.invoke(app, ["dlq", "list"])
    assert listing.exit_code == 0, listing.output
    assert "dead-lettered by the broker: rejected" in listing.output
    replay = cli.invoke(app, ["dlq", "replay", DLQ, "--all"])
    assert replay.exit_code == 0, replay.output
    back = asyncio.run(_take_all(amqp_url, SOURCE))
    assert [m.message_id for m in back] == [message_id]
    assert "x-death" not in (back[0].headers or {})
