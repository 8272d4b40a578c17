"""Deciding: an event arrives, the notifications it calls for are stored and their delivery dispatched."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from notification.adapters.rendering import Renderer
from notification.domain.decisions import Audience, decide
from notification.domain.model import Notification, notification_id
from notification.service_layer.tasks import DELIVER_TASK, QUEUE, TASK_EXCHANGE
from notification.service_layer.unit_of_work import NotificationUnitOfWork
from shared.contracts.base import Contract
from shared.messaging.envelope import Envelope

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


async def notify(
    event: Contract,
    envelope: Envelope,
    *,
    uow: NotificationUnitOfWork,
    audience: Audience,
    renderer: Renderer,
    clock: Callable[[], datetime] = _now,
) -> list[str]:
    """Store and dispatch each notification ``event`` calls for, skipping those that already exist.

    Returns the ids created. The inbox catches a redelivered message; the stable id (and the unique
    constraint behind it) catches the same outcome arriving under a different message id.
    """
    created: list[str] = []
    async with uow:
        for intent in decide(event, envelope, audience):
            nid = notification_id(intent.dedupe_key, intent.channel, intent.recipient)
            if await uow.notifications.exists(nid):
                log.info("notification %s for %s already exists; skipping", nid, intent.dedupe_key)
                continue
            rendered = renderer.render(intent, nid)
            await uow.notifications.add(
                Notification(
                    id=nid,
                    dedupe_key=intent.dedupe_key,
                    channel=intent.channel,
                    recipient=intent.recipient,
                    template=intent.template,
                    subject=rendered.subject,
                    body_text=rendered.body_text,
                    body_html=rendered.body_html,
                    correlation_id=envelope.correlation_id,
                    created_at=clock(),
                )
            )
            queue = QUEUE[intent.channel]
            uow.dispatch_task(
                DELIVER_TASK[intent.channel],
                args=[nid],
                queue=queue,
                exchange=TASK_EXCHANGE,
                routing_key=queue,
            )
            created.append(nid)
        await uow.commit()
    return created
