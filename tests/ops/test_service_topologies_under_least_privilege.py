"""Every installed service can declare its real topology with its own least-privilege user, and the drift
check then finds nothing: the permission model, the messaging runtime and the CLI agree."""

from __future__ import annotations

from typing import Any

import aio_pika
import pytest

from shared.messaging.declare import declare
from shared.messaging.topology import events_exchange
from shared.testing.waiting import wait_for
from warrenctl.access import SERVICES, SUBSCRIPTIONS
from warrenctl.drift import compare, expected_from_topologies, load_topologies

pytestmark = pytest.mark.integration

TOPOLOGIES = load_topologies(SERVICES)


def test_at_least_one_service_topology_is_installed_when_services_are_merged() -> None:
    assert TOPOLOGIES, "no service exposes TOPOLOGY in <service>.entrypoints.topology"


@pytest.mark.parametrize("service", sorted(TOPOLOGIES))
async def test_service_declares_its_topology_when_using_its_own_user(
    applied_model: Any, service: str
) -> None:
    connection = await aio_pika.connect(applied_model.url(service))
    async with connection:
        await declare(connection, TOPOLOGIES[service])


async def test_drift_is_empty_when_every_service_declared_its_topology(
    applied_model: Any, broker_admin: Any
) -> None:
    for service, topology in TOPOLOGIES.items():
        async with await aio_pika.connect(applied_model.url(service)) as connection:
            await declare(connection, topology)
    vhost = applied_model.vhost
    drifts = compare(
        expected_from_topologies(TOPOLOGIES),
        broker_admin.exchanges(vhost),
        broker_admin.queues(vhost),
        broker_admin.bindings(vhost),
    )
    assert drifts == []


@pytest.mark.parametrize("service", sorted(TOPOLOGIES))
def test_read_access_covers_exactly_the_exchanges_a_service_binds_to(service: str) -> None:
    topology = TOPOLOGIES[service]
    bound = {b.exchange for q in topology.queues for b in q.bindings} | set(topology.consumes_from)
    foreign = {name for name in bound if not name.startswith(f"{service}.")}
    assert {events_exchange(source) for source in SUBSCRIPTIONS[service]} == foreign


async def test_policies_apply_to_handler_retry_and_dead_letter_queues_when_declared(
    applied_model: Any, broker_admin: Any
) -> None:
    service, topology = next(iter(sorted(TOPOLOGIES.items())))
    async with await aio_pika.connect(applied_model.url(service)) as connection:
        await declare(connection, topology)
    handler = topology.queues[0]

    def policies() -> dict[str, str | None]:
        queues = {q["name"]: q.get("policy") for q in broker_admin.queues(applied_model.vhost)}
        return {
            "handler": queues.get(handler.source_queues[0]),
            "retry": queues.get(handler.retry_queue_names[0]),
            "dlq": queues.get(handler.dlq_name),
        }

    expected = {
        "handler": "warren-handler-queues",
        "retry": "warren-retry-tiers",
        "dlq": "warren-dead-letters",
    }
    await wait_for(lambda: policies() == expected, timeout=15, message=f"policies applied: {policies()}")
