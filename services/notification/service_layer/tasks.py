"""Names of the delivery tasks and their queues: one queue per channel, so a slow channel blocks no other."""

from __future__ import annotations

from notification.domain.model import Channel

DELIVER_TASK = {
    Channel.EMAIL: "notification.deliver_email",
    Channel.WEBHOOK: "notification.deliver_webhook",
}
QUEUE = {
    Channel.EMAIL: "notifications.email",
    Channel.WEBHOOK: "notifications.webhook",
}
MAINTENANCE_QUEUE = "notifications.maintenance"
# Task messages go to this topic exchange, routing key = queue name: least-privilege broker users may not
# write to the default exchange, and native delayed delivery needs a topic exchange.
TASK_EXCHANGE = "notification.tasks"
SWEEP_TASKS = {
    "stalled": "notification.redispatch_stalled",
    "retention": "notification.sweep_retention",
}
