"""The permission regexes, checked without a broker (RabbitMQ matches them the way re.search does)."""

from itertools import permutations

import pytest

from warrenctl.access import SERVICES, SUBSCRIPTIONS, may, operator_access, service_access


@pytest.mark.parametrize(("owner", "other"), list(permutations(SERVICES, 2)))
def test_a_service_gets_nothing_of_another_service_when_permissions_are_computed(
    owner: str, other: str
) -> None:
    access = service_access(owner)
    for resource in (
        f"{other}.events",
        f"{other}.retry",
        f"{other}.on_something",
        f"{other}.on_something.dlq",
    ):
        assert not may(access, "write", resource), resource
        assert not may(access, "configure", resource), resource
    assert not may(access, "read", f"{other}.on_something")
    assert may(access, "read", f"{other}.events") == (other in SUBSCRIPTIONS[owner])


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_owns_its_namespace_but_not_the_default_exchange(service: str) -> None:
    access = service_access(service)
    for permission in ("configure", "write", "read"):
        assert may(access, permission, f"{service}.on_x.retry.1.1s")
        assert not may(access, permission, "amq.default")
    assert not may(access, "write", f"x{service}.events")  # anchored: no prefix tricks


def test_only_the_operator_writes_to_the_default_exchange() -> None:
    assert may(operator_access(), "write", "amq.default")
