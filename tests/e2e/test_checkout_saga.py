"""The checkout saga end to end: payment, fraud, inventory and the gateway sandbox as separate processes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from shared.contracts.fraud import FraudAssessed, FraudDecision
from shared.messaging.connection import confirm_channel, connect
from shared.messaging.envelope import Envelope
from shared.messaging.publisher import Publisher
from shared.testing.waiting import wait_for

from .conftest import Suite, checkout_body, start_suite

pytestmark = pytest.mark.e2e


def steps(view: dict[str, object]) -> list[str]:
    return [step["step"] for step in view["history"]]  # type: ignore[attr-defined, index]


async def stock_settles(suite: Suite, sku: str, **expected: int) -> dict[str, int]:
    async def settled() -> dict[str, int] | None:
        stock = await suite.stock(sku)
        return stock if all(stock[k] == v for k, v in expected.items()) else None

    return await wait_for(settled, timeout=30, interval=0.1, message=f"stock of {sku} is {expected}")


async def test_payment_is_captured_and_stock_sold_when_card_fraud_and_stock_are_fine(suite: Suite) -> None:
    await suite.set_stock("sku-1", 3)
    response = await suite.checkout(quantity=2)
    assert response.status_code == 202
    view = await suite.wait_final(response.json()["payment_id"])
    assert view["status"] == "captured"
    assert view["amount"] == 3000
    assert view["charge_id"].startswith("ch_")
    assert {"requested", "fraud.approved", "stock.reserved", "charge.captured"} <= set(steps(view))
    assert len(await suite.charges(view["payment_id"])) == 1
    await stock_settles(suite, "sku-1", available=1, reserved=0, sold=2)

    async def stock_committed_in_history() -> bool:
        return "stock.committed" in steps(await suite.payment_view(view["payment_id"]))

    await wait_for(stock_committed_in_history, timeout=15, message="inventory's commit recorded by payment")
    assert await suite.payment.stop() == 0, "SIGTERM stops payment gracefully"


@pytest.mark.parametrize(
    ("token", "reason"),
    [("tok_chargeDeclined", "card_declined"), ("tok_insufficientFunds", "insufficient_funds")],
)
async def test_payment_is_declined_and_stock_released_when_the_card_is_declined(
    suite: Suite, token: str, reason: str
) -> None:
    await suite.set_stock("sku-1", 5)
    view = await suite.wait_final((await suite.checkout(token=token)).json()["payment_id"])
    assert (view["status"], view["reason"]) == ("declined", reason)
    await stock_settles(suite, "sku-1", available=5, reserved=0, sold=0)


async def test_payment_is_rejected_without_a_charge_when_fraud_rejects_it(suite: Suite) -> None:
    await suite.set_stock("sku-1", 5)
    response = await suite.checkout(email="mallory@blocked.example")
    view = await suite.wait_final(response.json()["payment_id"])
    assert view["status"] == "rejected"
    assert "fraud" in view["reason"]
    assert await suite.charges(view["payment_id"]) == []
    await stock_settles(suite, "sku-1", available=5, reserved=0, sold=0)


async def test_payment_is_cancelled_without_a_charge_when_stock_runs_out(suite: Suite) -> None:
    await suite.set_stock("sku-1", 1)
    view = await suite.wait_final((await suite.checkout(quantity=2)).json()["payment_id"])
    assert view["status"] == "cancelled"
    assert "out of stock" in view["reason"]
    assert await suite.charges(view["payment_id"]) == []
    await stock_settles(suite, "sku-1", available=1, reserved=0, sold=0)


@pytest.mark.parametrize(("decision", "final"), [("approve", "captured"), ("reject", "rejected")])
async def test_operator_decides_the_payment_when_fraud_asks_for_review(
    review_suite: Suite, decision: str, final: str
) -> None:
    suite = review_suite
    await suite.set_stock("sku-1", 5)
    payment_id = (await suite.checkout(country="XR")).json()["payment_id"]
    await suite.wait_status(payment_id, {"review"})
    await stock_settles(suite, "sku-1", reserved=1)
    response = await suite.http.post(
        f"{suite.payment.url}/payments/{payment_id}/review", json={"decision": decision}
    )
    assert response.status_code == 200
    view = await suite.wait_final(payment_id)
    assert view["status"] == final
    assert f"review.{decision}" in steps(view)
    sold = 1 if final == "captured" else 0
    await stock_settles(suite, "sku-1", available=5 - sold, reserved=0, sold=sold)


async def test_payment_completes_once_when_the_gateway_is_down_then_back(suite: Suite) -> None:
    await suite.set_stock("sku-1", 5)
    await suite.chaos("fail", seconds=60)
    payment_id = (await suite.checkout()).json()["payment_id"]

    async def retried() -> bool:
        return steps(await suite.payment_view(payment_id)).count("charge.unavailable") >= 2

    await wait_for(retried, timeout=30, message="two failed charge attempts")
    assert (await suite.payment_view(payment_id))["status"] == "pending"
    await suite.calm()
    view = await suite.wait_final(payment_id)
    assert view["status"] == "captured"
    assert len(await suite.charges(payment_id)) == 1
    await stock_settles(suite, "sku-1", available=4, reserved=0, sold=1)


async def test_payment_is_captured_once_when_the_gateway_answers_too_late(suite: Suite) -> None:
    await suite.set_stock("sku-1", 5)
    payment_id = (await suite.checkout(token="tok_timeout")).json()["payment_id"]
    view = await suite.wait_final(payment_id, timeout=40)
    assert view["status"] == "captured"
    # The first call timed out (1 s against the sandbox's 3 s); later calls with the same key got its answer.
    stats = (await suite.http.get(f"{suite.gateway.url}/admin/stats")).json()
    assert stats["requests"] >= 2
    assert len(await suite.charges(payment_id)) == 1


async def test_payment_fails_and_stock_is_released_when_the_gateway_stays_down_past_the_deadline(
    amqp_url: str, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        suite = await start_suite(
            stack, amqp_url=amqp_url, workdir=tmp_path, payment_env={"PAYMENT_DEADLINE_SECONDS": "3"}
        )
        await suite.set_stock("sku-1", 5)
        await suite.chaos("fail", seconds=120)
        view = await suite.wait_final((await suite.checkout()).json()["payment_id"])
        assert view["status"] == "failed"
        assert "deadline" in view["reason"]
        await stock_settles(suite, "sku-1", available=5, reserved=0, sold=0)
        await suite.calm()
        assert await suite.charges(view["payment_id"]) == []


async def test_failed_payment_leaves_no_money_taken_when_a_timed_out_charge_lands_after_the_deadline(
    amqp_url: str, tmp_path: Path
) -> None:
    # The gateway takes 5 s to process each charge while payment waits 1 s a call: the payment fails at its
    # 2 s deadline with charges still in flight at the gateway. The void must cancel them or give them back.
    async with AsyncExitStack() as stack:
        suite = await start_suite(
            stack, amqp_url=amqp_url, workdir=tmp_path, payment_env={"PAYMENT_DEADLINE_SECONDS": "2"}
        )
        await suite.chaos("slow", seconds=120, delay=5)
        await suite.set_stock("sku-1", 5)
        payment_id = (await suite.checkout()).json()["payment_id"]
        view = await suite.wait_final(payment_id, timeout=40)
        assert view["status"] == "failed"

        async def void_settled() -> dict[str, Any] | None:
            current = await suite.payment_view(payment_id)
            settled = {"charge.voided", "charge.void_confirmed"} & set(steps(current))
            return current if settled else None

        await wait_for(void_settled, timeout=30, message="the failed payment's reference voided")

        # The in-flight charge was voided if it landed first, or is refused when it wakes up: none stands.
        assert all(charge["status"] == "voided" for charge in await suite.charges(payment_id))
        await stock_settles(suite, "sku-1", available=5, reserved=0, sold=0)


async def test_duplicate_post_answers_the_same_payment_and_charges_once_when_the_key_repeats(
    suite: Suite,
) -> None:
    await suite.set_stock("sku-1", 5)
    body = checkout_body()
    first, second = await asyncio.gather(
        suite.post_checkout(body, key="same-key"), suite.post_checkout(body, key="same-key")
    )
    assert first.status_code == second.status_code == 202
    assert first.json()["payment_id"] == second.json()["payment_id"]
    view = await suite.wait_final(first.json()["payment_id"])
    assert view["status"] == "captured"
    again = await suite.post_checkout(body, key="same-key")
    assert again.json()["payment_id"] == view["payment_id"]
    other = await suite.post_checkout({**body, "currency": "USD"}, key="same-key")
    assert other.status_code == 409
    assert len(await suite.charges(view["payment_id"])) == 1
    await stock_settles(suite, "sku-1", available=4, sold=1)


@pytest.fixture
async def fraud_publisher(suite: Suite) -> AsyncIterator[Publisher]:
    connection = await connect(suite.payment.env["PAYMENT_AMQP_URL"], connection_name="e2e-fraud-imitation")
    async with connection:
        yield Publisher(await confirm_channel(connection))


async def test_payment_charges_once_when_events_are_duplicated_and_arrive_stock_first(
    suite: Suite, fraud_publisher: Publisher
) -> None:
    await suite.set_stock("sku-1", 5)
    await suite.fraud.stop()  # fraud's answer comes late: inventory answers first
    payment_id = (await suite.checkout()).json()["payment_id"]
    await stock_settles(suite, "sku-1", reserved=1)

    async def reservation_recorded() -> dict[str, Any] | None:
        # Inventory shows the reservation before payment has consumed its stock.reserved event.
        view = await suite.payment_view(payment_id)
        return view if "stock.reserved" in steps(view) else None

    view = await wait_for(reservation_recorded, timeout=30, interval=0.1, message="stock.reserved recorded")
    assert view["status"] == "pending"

    # The same assessment twice with one message id (redelivery), and again as a new message (duplicate).
    assessed = FraudAssessed(payment_id=payment_id, decision=FraudDecision.APPROVED, score=1)
    envelope = Envelope(
        type=assessed.message_type,
        correlation_id=payment_id,
        producer="fraud",
        payload=assessed.model_dump(mode="json"),
    )
    await asyncio.gather(*(fraud_publisher.publish("fraud.events", envelope) for _ in range(2)))
    copy = envelope.model_copy(update={"message_id": uuid.uuid4()})
    await fraud_publisher.publish("fraud.events", copy)
    view = await suite.wait_final(payment_id)
    assert view["status"] == "captured"

    await suite.fraud.start()  # the real fraud answers too, after the outcome: nothing changes
    await stock_settles(suite, "sku-1", available=4, reserved=0, sold=1)

    async def real_fraud_answer_absorbed() -> bool:
        return (await suite.stock("sku-1"))["sold"] == 1 and len(await suite.charges(payment_id)) == 1

    await wait_for(real_fraud_answer_absorbed, timeout=10)
    view = await suite.payment_view(payment_id)
    assert steps(view).count("fraud.approved") == 1
    assert view["status"] == "captured"


async def test_payment_is_captured_when_fraud_answers_before_inventory(suite: Suite) -> None:
    await suite.set_stock("sku-1", 5)
    await suite.inventory.stop()
    payment_id = (await suite.checkout()).json()["payment_id"]

    async def fraud_answered() -> bool:
        return "fraud.approved" in steps(await suite.payment_view(payment_id))

    await wait_for(fraud_answered, timeout=30)
    await suite.inventory.start()
    view = await suite.wait_final(payment_id)
    assert view["status"] == "captured"
    assert steps(view).index("fraud.approved") < steps(view).index("stock.reserved")
    await stock_settles(suite, "sku-1", available=4, reserved=0, sold=1)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_exactly_the_stock_is_sold_when_200_checkouts_race_for_50_units(
    amqp_url: str, tmp_path: Path, backend: str
) -> None:
    async with AsyncExitStack() as stack:
        suite = await start_suite(stack, amqp_url=amqp_url, workdir=tmp_path, backend=backend)
        await suite.set_stock("flash", 50)
        responses = await asyncio.gather(*(suite.checkout(sku="flash") for _ in range(200)))
        assert {r.status_code for r in responses} == {202}
        ids = [r.json()["payment_id"] for r in responses]
        finals = await suite.wait_all_final(ids, timeout=120)
        statuses = [view["status"] for view in finals]
        assert statuses.count("captured") == 50
        assert statuses.count("cancelled") == 150
        await stock_settles(suite, "flash", available=0, reserved=0, sold=50)
        stats = (await suite.http.get(f"{suite.gateway.url}/admin/stats")).json()
        assert stats["charges"] == 50


async def test_payment_is_charged_once_when_payment_is_killed_mid_charge_and_restarted(suite: Suite) -> None:
    await suite.set_stock("sku-1", 5)
    await suite.chaos("slow", seconds=60, delay=2)  # every charge takes 2 s: time to kill payment mid-call
    payment_id = (await suite.checkout()).json()["payment_id"]

    async def charging() -> bool:
        return "charge.ready" in steps(await suite.payment_view(payment_id))

    await wait_for(charging, timeout=30, message="the charge claimed")
    assert suite.payment.process is not None
    suite.payment.process.kill()  # SIGKILL: no graceful anything
    await suite.payment.process.wait()
    suite.payment.process = None
    await suite.calm()
    await suite.payment.start()  # the sweeper retries the charge once its lease (5 s here) runs out
    view = await suite.wait_final(payment_id, timeout=40)
    assert view["status"] == "captured"
    assert len(await suite.charges(payment_id)) == 1
    await stock_settles(suite, "sku-1", available=4, reserved=0, sold=1)
