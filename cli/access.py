"""Who may do what on the broker: one RabbitMQ user per service, least privilege, in one place.

RabbitMQ checks three regular expressions per user and vhost against resource names (exchanges and queues):

- ``configure``: declare or delete a queue or exchange. A service declares only its own ``<svc>.*`` names;
  other services' ``<svc>.events`` exchanges are created up front by :mod:`warrenctl.broker_setup`, so
  nobody needs configure rights on a neighbour's exchange (which would let it delete that exchange).
- ``write``: publish to an exchange, bind a queue (write on the queue), and name a dead-letter exchange in
  a queue's arguments. A service writes only to ``<svc>.*``: its events, retry and dead-letter exchanges.
- ``read``: consume or get from a queue, and be the *source* exchange of a binding. A service reads its
  own ``<svc>.*`` queues and exactly the events exchanges it subscribes to, never another service's queue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.messaging.topology import events_exchange

# The events exchanges each service binds its handler queues to. Reading an exchange only allows binding to
# it; it gives no access to the queues of the service that owns it.
SUBSCRIPTIONS: dict[str, tuple[str, ...]] = {
    "payment": ("fraud", "inventory"),
    "fraud": ("payment",),
    "inventory": ("payment",),
    "notification": ("payment", "inventory"),
}

# Name prefixes a service owns beyond its own ``<svc>.``: the notification service's Celery delivery queues
# are ``notifications.<channel>``.
EXTRA_NAMESPACES: dict[str, tuple[str, ...]] = {"notification": ("notifications",)}

# Celery's own broker plumbing, used only by the notification worker and beat: native delayed delivery for
# retries with a countdown (``celery_delayed_*``), remote control (``*.celery.pidbox``) and events (``celeryev``).
CELERY_RESOURCES: tuple[str, ...] = (
    r"celery_delayed_.*",
    r"celery\.pidbox",
    r"reply\.celery\.pidbox",
    r"[^.]*@.*\.celery\.pidbox",  # <worker>@<host>.celery.pidbox
    r"[0-9a-f-]+\.reply\.celery\.pidbox",  # replies to `celery inspect` (the worker's health check)
    r"celeryev(\..*)?",
)
EXTRA_RESOURCES: dict[str, tuple[str, ...]] = {"notification": CELERY_RESOURCES}

SERVICES: tuple[str, ...] = tuple(SUBSCRIPTIONS)
OPERATOR = "operator"
VHOST = "warren"


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str

    def as_dict(self) -> dict[str, str]:
        return {"configure": self.configure, "write": self.write, "read": self.read}


@dataclass(frozen=True)
class ServiceAccess:
    """The broker account of one service: user name and its permission regexes on the Warren vhost."""

    service: str
    user: str
    permissions: Permissions
    tags: tuple[str, ...] = field(default=())


def _alternatives(names: list[str]) -> str:
    return "^(" + "|".join(names) + ")$"


def service_access(service: str, user_prefix: str = "") -> ServiceAccess:
    """The least-privilege account of ``service`` (user ``<prefix><service>``)."""
    namespaces = (service, *EXTRA_NAMESPACES.get(service, ()))
    own = [re.escape(ns) + r"\..*" for ns in namespaces] + list(EXTRA_RESOURCES.get(service, ()))
    subscribed = [re.escape(events_exchange(source)) for source in SUBSCRIPTIONS.get(service, ())]
    permissions = Permissions(
        configure=_alternatives(own),
        write=_alternatives(own),
        read=_alternatives(own + subscribed),
    )
    return ServiceAccess(service=service, user=f"{user_prefix}{service}", permissions=permissions)


def operator_access(user_prefix: str = "") -> ServiceAccess:
    """The operator account the ``warren`` CLI uses: everything on the vhost, management UI access.

    Replaying a dead letter publishes it straight back to its original queue through the default exchange,
    which only an operator may do.
    """
    return ServiceAccess(
        service=OPERATOR,
        user=f"{user_prefix}{OPERATOR}",
        permissions=Permissions(".*", ".*", ".*"),
        tags=("management", "policymaker", "monitoring"),
    )


def all_accounts(user_prefix: str = "") -> list[ServiceAccess]:
    """Every account Warren needs: one per service plus the operator."""
    return [service_access(service, user_prefix) for service in SERVICES] + [operator_access(user_prefix)]


def may(access: ServiceAccess, permission: str, resource: str) -> bool:
    """Whether RabbitMQ would grant ``permission`` (configure/write/read) on ``resource`` to ``access``."""
    pattern: str = access.permissions.as_dict()[permission]
    return re.search(pattern, resource) is not None
