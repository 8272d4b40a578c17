"""Payment's handlers on a broker (in memory and the real RabbitMQ), with the database faked."""

from collections.abc import Callable

from payment.domain.model import PaymentStatus
from payment.entrypoints.consumers import fraud_handler, stock_handler
from payment.entrypoints.topology import ACCEPTS, ON_FRAUD_ASSESSED, ON_STOCK, TOPOLOGY
from payment.service_layer import handlers
from payment.service_layer.handlers import Services
from payment.service_layer.ports import UnitOfWorkFactory
from shared.contracts import envelope_for
from shared.contracts.fraud import FraudAssessed, FraudDecision
from shared.contracts.inventory import StockReserved
from shared.messaging.envelope import Envelope
from shared.messaging.topology import Topology, events_exchange
from shared.testing.messaging_harness import MessagingHarness

from ..unit.factories import checkout
from ..unit.fakes import FakeClock, FakeGateway, FakeStore, FakeUnitOfWork

# The exchanges payment binds to belong to fraud and inventory; declare them as those services would.
PRODUCERS = (Topology(service="fraud"), Topology(service="inventory"))


def harness_services(store: FakeStore) -> tuple[Services, Callable[[str, Envelope], UnitOfWorkFactory]]:
    services = Services(uow=lambda: FakeUnitOfWork(store), gateway=FakeGateway(), clock=FakeClock())

    def uow_for(handler: str, envelope: Envelope) -> UnitOfWorkFactory:
        return lambda: FakeUnitOfWork(store, inbox_key=f"{handler}:{envelope.message_id}")

    return services, uow_for


async def start(harness: MessagingHarness, store: FakeStore) -> Services:
    services, uow_for = harness_services(store)
    harness.register(ON_FRAUD_ASSESSED, fraud_handler(services, uow_for), ACCEPTS[ON_FRAUD_ASSESSED.handler])
    harness.register(ON_STOCK, stock_handler(services, uow_for), ACCEPTS[ON_STOCK.handler])
    await harness.start(*PRODUCERS, TOPOLOGY)
    return services


async def test_payment_is_captured_when_both_answers_arrive_through_the_broker(
    messaging_harness: MessagingHarness,
) -> None:
    store = FakeStore()
    services = await start(messaging_harness, store)
    payment = await handlers.request_payment(checkout(), "k1", services, new_id=lambda: "pay-1")
    reserved = StockReserved(payment_id=payment.id, reservation_id="res-1", items=())
    assessed = FraudAssessed(payment_id=payment.id, decision=FraudDecision.APPROVED, score=1)
    await messaging_harness.publish(events_exchange("inventory"), envelope_for(reserved))
    await messaging_harness.publish(events_exchange("fraud"), envelope_for(assessed))
    await messaging_harness.settle()
    assert store.payments[payment.id].status is PaymentStatus.CAPTURED
    assert await messaging_harness.dead_letters(ON_STOCK) == []


async def test_answer_for_an_unknown_payment_is_dead_lettered_at_once_when_it_arrives(
    messaging_harness: MessagingHarness,
) -> None:
    await start(messaging_harness, FakeStore())
    assessed = FraudAssessed(payment_id="ghost", decision=FraudDecision.APPROVED, score=1)
    await messaging_harness.publish(events_exchange("fraud"), envelope_for(assessed))
    await messaging_harness.settle()
    [dead] = await messaging_harness.dead_letters(ON_FRAUD_ASSESSED)
    assert dead.record.failure == "permanent"
    assert "ghost" in dead.record.reason
