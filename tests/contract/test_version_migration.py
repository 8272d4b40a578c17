"""A fact moving from v1 to v2, end to end on a synthetic suite: what passes inside the window, what fails."""

from collections.abc import Iterator
from datetime import date
from typing import ClassVar

from shared.contracts.base import Contract, Event
from shared.contracts.catalogue import Catalogue, ServiceDeclaration
from shared.contracts.evolution import check_versions
from shared.contracts.expectations import ConsumerExpectations
from shared.contracts.routing import check_routing
from shared.contracts.verification import build_examples, verify_consumers, verify_examples
from shared.messaging.topology import Topology, handler_queue

INSIDE, AFTER = date(2026, 6, 1), date(2026, 7, 1)


class ShippedV1(Event, register=False):
    producer: ClassVar[str] = "depot"
    message_type: ClassVar[str] = "depot.shipped.v1"
    deprecated_until: ClassVar[date | None] = date(2026, 6, 30)

    parcel_id: str
    carrier_name: str


class ShippedV2(Event, register=False):
    """v2 renamed carrier_name to carrier: a breaking change, hence a new version."""

    producer: ClassVar[str] = "depot"
    message_type: ClassVar[str] = "depot.shipped.v2"

    parcel_id: str
    carrier: str


def depot_examples() -> Iterator[Contract]:
    yield ShippedV2(parcel_id="p1", carrier="dhl")  # the producer already switched to v2


def suite(accepts: tuple[type[Contract], ...]) -> Catalogue:
    depot = ServiceDeclaration(name="depot", topology=Topology(service="depot"), examples=depot_examples)
    shop = ServiceDeclaration(
        name="shop",
        topology=Topology(
            service="shop",
            queues=(handler_queue("shop", "on_shipped", [("depot.events", "depot.shipped")]),),
            consumes_from=("depot.events",),
        ),
        accepts={"on_shipped": accepts},
    )
    return Catalogue.build([depot, shop], [ShippedV1, ShippedV2])


EXPECTATIONS = {
    "shop": ConsumerExpectations.model_validate(
        {
            "consumer": "shop",
            "messages": {
                "depot.shipped.v1": {
                    "fields": {"parcel_id": {"type": "string"}, "carrier_name": {"type": "string"}}
                },
                "depot.shipped.v2": {
                    "fields": {"parcel_id": {"type": "string"}, "carrier": {"type": "string"}}
                },
            },
        }
    )
}


def everything(catalogue: Catalogue, today: date) -> list[str]:
    examples, problems = build_examples(catalogue)
    return (
        problems
        + check_versions(catalogue.contracts)
        + check_routing(catalogue, today)
        + verify_examples(catalogue, examples, today)
        + verify_consumers(catalogue, EXPECTATIONS, examples)
    )


def test_the_migration_passes_when_the_consumer_accepts_both_versions_inside_the_window() -> None:
    assert everything(suite((ShippedV1, ShippedV2)), INSIDE) == []


def test_the_migration_fails_when_the_consumer_drops_the_old_version_inside_the_window() -> None:
    problems = everything(suite((ShippedV2,)), INSIDE)

    assert (
        "shop.on_shipped accepts depot.shipped.v2 but not depot.shipped.v1: a consumer keeps accepting every live "
        "version of a fact until the old one's deprecated_until"
    ) in problems
    assert (
        "consumer 'shop' declares expectations on depot.shipped.v1, but none of its handlers accepts it"
    ) in problems


def test_the_migration_fails_when_the_old_version_outlives_its_window() -> None:
    assert everything(suite((ShippedV1, ShippedV2)), AFTER) == [
        "depot.shipped.v1 passed its deprecated_until (2026-06-30): remove the model and every handler's "
        "registration of it"
    ]
