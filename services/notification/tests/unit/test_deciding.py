from __future__ import annotations

import pytest

from notification.adapters.rendering import Renderer, money
from notification.domain.decisions import Audience, decide
from notification.domain.model import Channel, Status, notification_id
from notification.service_layer.handlers import notify
from notification.service_layer.tasks import DELIVER_TASK, QUEUE
from notification.tests.factories import OUTCOMES, envelope_for, outcome
from notification.tests.unit.fakes import FakeUnitOfWork
from shared.contracts.fraud import FraudAssessed, FraudDecision
from shared.contracts.inventory import StockLow
from shared.contracts.payment import PaymentReviewRequired

AUDIENCE = Audience(operator_email="ops@warren.test")


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (12345, "EUR", "123.45 EUR"),
        (500, "JPY", "500 JPY"),
        (1234567, "USD", "12,345.67 USD"),
        (1, "KWD", "0.001 KWD"),
    ],
)
def test_amount_is_shown_in_major_units_when_rendered(amount: int, currency: str, text: str) -> None:
    assert money(amount, currency) == text


@pytest.mark.parametrize("kind", sorted(OUTCOMES))
async def test_customer_gets_one_email_when_a_payment_outcome_arrives(kind: str) -> None:
    event = outcome(kind, email="ada@example.com")
    uow = FakeUnitOfWork()
    [nid] = await notify(event, envelope_for(event), uow=uow, audience=AUDIENCE, renderer=Renderer())
    stored = uow.committed[nid]
    assert stored.channel is Channel.EMAIL
    assert stored.recipient == "ada@example.com"
    assert stored.status is Status.PENDING
    assert "123.45 EUR" in stored.body_text
    assert "123.45 EUR" in (stored.body_html or "")
    assert event.order_id in (stored.subject or "") + stored.body_text
    assert "\n" not in (stored.subject or "")
    assert [(d.name, d.queue, d.args, d.exchange) for d in uow.dispatched] == [
        (DELIVER_TASK[Channel.EMAIL], QUEUE[Channel.EMAIL], (nid,), "notification.tasks")
    ]


async def test_nothing_new_is_stored_or_dispatched_when_the_same_outcome_arrives_again() -> None:
    event = outcome("captured")
    uow = FakeUnitOfWork()
    renderer = Renderer()
    first = await notify(event, envelope_for(event), uow=uow, audience=AUDIENCE, renderer=renderer)
    again = await notify(event, envelope_for(event), uow=uow, audience=AUDIENCE, renderer=renderer)
    assert len(first) == 1
    assert again == []
    assert len(uow.dispatched) == 1


async def test_user_text_is_escaped_when_rendered_as_html() -> None:
    event = outcome("declined", reason="<script>alert(1)</script>")
    uow = FakeUnitOfWork()
    [nid] = await notify(event, envelope_for(event), uow=uow, audience=AUDIENCE, renderer=Renderer())
    html = uow.committed[nid].body_html or ""
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<script>alert(1)</script>" in uow.committed[nid].body_text


def test_operator_is_told_when_a_payment_waits_for_review_or_stock_runs_low() -> None:
    review = PaymentReviewRequired(
        payment_id="p1",
        order_id="o1",
        customer_id="c1",
        customer_email="ada@example.com",
        amount=500,
        currency="EUR",
        score=70,
        reasons=("velocity",),
    )
    low = StockLow(sku="SKU-1", available=2, threshold=5)
    for event in (review, low):
        [intent] = decide(event, envelope_for(event), AUDIENCE)
        assert intent.channel is Channel.EMAIL
        assert intent.recipient == "ops@warren.test"
    rendered = Renderer().render(decide(low, envelope_for(low), AUDIENCE)[0], "n1")
    assert rendered.subject == "[stock] SKU-1 is running low (2 left)"


def test_stock_low_twice_for_a_sku_gives_two_notifications_when_they_are_separate_messages() -> None:
    low = StockLow(sku="SKU-1", available=2, threshold=5)
    [first] = decide(low, envelope_for(low), AUDIENCE)
    [second] = decide(low, envelope_for(low), AUDIENCE)
    assert first.dedupe_key != second.dedupe_key


def test_merchant_webhook_is_added_when_one_is_configured() -> None:
    event = outcome("captured")
    audience = Audience(operator_email="ops@warren.test", webhook_url="https://merchant.example/hooks")
    intents = decide(event, envelope_for(event), audience)
    assert [(i.channel, i.recipient) for i in intents] == [
        (Channel.EMAIL, event.customer_email),
        (Channel.WEBHOOK, "https://merchant.example/hooks"),
    ]


def test_events_nobody_needs_to_hear_about_give_no_notification_when_decided() -> None:
    event = FraudAssessed(payment_id="p1", decision=FraudDecision.APPROVED, score=1)
    assert decide(event, envelope_for(event), AUDIENCE) == []


def test_notification_id_is_stable_when_computed_twice() -> None:
    assert notification_id("payment.captured:p1", Channel.EMAIL, "Ada@Example.com") == notification_id(
        "payment.captured:p1", Channel.EMAIL, "ada@example.com"
    )
    assert notification_id("payment.captured:p1", Channel.EMAIL, "a@x.y") != notification_id(
        "payment.declined:p1", Channel.EMAIL, "a@x.y"
    )
