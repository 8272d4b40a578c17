from datetime import date
from typing import ClassVar

import pytest
from contract_tools.declarations import Loaded

from shared.contracts.base import Contract, Event
from shared.contracts.catalogue import Catalogue, ServiceDeclaration, topic_matches
from shared.contracts.routing import check_routing
from shared.messaging.topology import Topology, handler_queue

TODAY = date(2026, 6, 1)


class Shipped(Event, register=False):
    producer: ClassVar[str] = "depot"
    message_type: ClassVar[str] = "depot.shipped.v1"

    parcel_id: str


class ShippedV2(Event, register=False):
    producer: ClassVar[str] = "depot"
    message_type: ClassVar[str] = "depot.shipped.v2"

    parcel_id: str
    carrier: str


class Lost(Event, register=False):
    producer: ClassVar[str] = "depot"
    message_type: ClassVar[str] = "depot.lost.v1"

    parcel_id: str


def consumer(patterns: list[str], accepts: tuple[type[Contract], ...]) -> ServiceDeclaration:
    queue = handler_queue("shop", "on_depot", [("depot.events", pattern) for pattern in patterns])
    topology = Topology(service="shop", queues=(queue,), consumes_from=("depot.events",))
    return ServiceDeclaration(name="shop", topology=topology, accepts={"on_depot": accepts})


def problems(
    contracts: list[type[Contract]], patterns: list[str], accepts: tuple[type[Contract], ...]
) -> list[str]:
    return check_routing(Catalogue.build([consumer(patterns, accepts)], contracts), TODAY)


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("payment.captured", "payment.captured", True),
        ("payment.*", "payment.captured", True),
        ("payment.*", "payment.captured.late", False),
        ("payment.#", "payment", True),
        ("payment.#", "payment.captured.late", True),
        ("#", "anything.at.all", True),
        ("*.captured", "payment.captured", True),
        ("*.captured", "captured", False),
        ("payment.captured", "payment.declined", False),
        ("#.captured", "a.b.captured", True),
    ],
)
def test_topic_matches_follows_amqp_rules_when_patterns_use_wildcards(
    pattern: str, key: str, matches: bool
) -> None:
    assert topic_matches(pattern, key) is matches


def test_no_problem_is_reported_when_bindings_and_keys_meet() -> None:
    class Marked(Lost, register=False):
        intentionally_unconsumed: ClassVar[str | None] = "read by the operator"

    assert problems([Shipped, Marked], ["depot.shipped"], (Shipped,)) == []


def test_a_binding_fails_when_no_producer_emits_a_matching_key() -> None:
    assert problems([Shipped], ["depot.shipped", "depot.returned"], (Shipped,)) == [
        "shop.on_depot binds 'depot.events' with pattern 'depot.returned', but no producer emits a matching routing "
        "key there"
    ]


def test_an_emitted_key_fails_when_nobody_consumes_it_and_it_is_not_marked() -> None:
    assert problems([Shipped, Lost], ["depot.shipped"], (Shipped,)) == [
        "depot.lost.v1 ('depot.events' / 'depot.lost', produced by depot) reaches no consumer: bind a handler to it "
        "or set intentionally_unconsumed on the contract"
    ]


def test_an_unconsumed_marker_fails_when_the_type_is_consumed_after_all() -> None:
    class Marked(Shipped, register=False):
        intentionally_unconsumed: ClassVar[str | None] = "nobody cares"

    assert problems([Marked], ["depot.shipped"], (Marked,)) == [
        "depot.shipped.v1 is marked intentionally_unconsumed but shop.on_depot consume it: remove the marker"
    ]


def test_a_wildcard_binding_fails_when_it_routes_a_type_the_handler_does_not_accept() -> None:
    assert problems([Shipped, Lost], ["depot.*"], (Shipped,)) == [
        "shop.on_depot receives depot.lost.v1 through its bindings but does not accept it (it would be "
        "dead-lettered as an unknown type): narrow the binding or accept the type"
    ]


def test_an_accepted_type_fails_when_no_binding_routes_it() -> None:
    class Marked(Lost, register=False):
        intentionally_unconsumed: ClassVar[str | None] = "read by the operator"

    assert problems([Shipped, Marked], ["depot.shipped"], (Shipped, Marked)) == [
        "shop.on_depot accepts depot.lost.v1 but no binding routes 'depot.events' / 'depot.lost' to it"
    ]


def test_a_consumer_fails_when_it_accepts_the_new_version_but_drops_the_old_inside_its_window() -> None:
    class Old(Shipped, register=False):
        deprecated_until: ClassVar[date | None] = date(2026, 6, 30)

    assert problems([Old, ShippedV2], ["depot.shipped"], (ShippedV2,)) == [
        "shop.on_depot receives depot.shipped.v1 through its bindings but does not accept it (it would be "
        "dead-lettered as an unknown type): narrow the binding or accept the type",
        "shop.on_depot accepts depot.shipped.v2 but not depot.shipped.v1: a consumer keeps accepting every live "
        "version of a fact until the old one's deprecated_until",
    ]
    assert problems([Old, ShippedV2], ["depot.shipped"], (Old, ShippedV2)) == []


def test_an_old_version_fails_when_it_outlives_its_deprecation_window() -> None:
    class Old(Shipped, register=False):
        deprecated_until: ClassVar[date | None] = date(2026, 5, 31)

    assert problems([Old, ShippedV2], ["depot.shipped"], (Old, ShippedV2)) == [
        "depot.shipped.v1 passed its deprecated_until (2026-05-31): remove the model and every handler's "
        "registration of it"
    ]


def test_the_suite_keeps_its_routing_contract_when_checked(loaded: Loaded, today: date) -> None:
    assert check_routing(loaded.catalogue, today) == []


def test_consumes_from_fails_when_it_disagrees_with_the_bindings() -> None:
    queue = handler_queue("shop", "on_depot", [("depot.events", "depot.shipped")])
    topology = Topology(service="shop", queues=(queue,), consumes_from=("payment.events",))
    shop = ServiceDeclaration(name="shop", topology=topology, accepts={"on_depot": (Shipped,)})

    assert check_routing(Catalogue.build([shop], [Shipped]), TODAY) == [
        "shop binds to 'depot.events' but its TOPOLOGY.consumes_from does not list it",
        "shop lists 'payment.events' in consumes_from but no handler binds to it",
    ]
