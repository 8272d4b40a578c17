from __future__ import annotations

import pytest
from pydantic import ValidationError

from notification.config import NotificationSettings
from notification.entrypoints.celery_app import create_celery_app
from notification.entrypoints.celery_config import celery_config, task_queues


def test_delivery_queues_are_quorum_on_a_topic_exchange_when_configured() -> None:
    # Quorum queues switch Celery to RabbitMQ native delayed delivery, and that needs a topic exchange.
    for queue in task_queues():
        assert queue.queue_arguments["x-queue-type"] == "quorum"
        assert queue.exchange.type == "topic"
        assert queue.queue_arguments["x-delivery-limit"] > 1


def test_tasks_ack_late_and_requeue_on_worker_loss_when_configured() -> None:
    config = celery_config(NotificationSettings(amqp_url="amqp://u:p@h/warren"))
    assert config["task_acks_late"] is True
    assert config["task_reject_on_worker_lost"] is True
    assert config["worker_prefetch_multiplier"] == 1
    assert config["task_routes"]["notification.deliver_email"] == {"queue": "notifications.email"}
    assert config["task_routes"]["notification.deliver_webhook"] == {"queue": "notifications.webhook"}
    assert config["broker_url"] == "amqp://u:p@h/warren"


def test_rate_limits_apply_per_channel_when_set() -> None:
    config = celery_config(NotificationSettings(email_rate_limit="5/s", webhook_rate_limit=None))
    assert config["task_annotations"] == {"notification.deliver_email": {"rate_limit": "5/s"}}


def test_app_reads_settings_from_the_environment_only_when_first_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = create_celery_app()
    monkeypatch.setenv("NOTIFICATION_AMQP_URL", "amqp://late:pw@broker/warren")
    assert app.conf.broker_url == "amqp://late:pw@broker/warren"


@pytest.mark.parametrize("name", ["retry_max_seconds", "task_time_limit_seconds"])
def test_settings_are_refused_when_a_delay_would_reach_the_consumer_timeout(name: str) -> None:
    with pytest.raises(ValidationError, match="consumer_timeout"):
        NotificationSettings(**{name: 1000.0}, broker_consumer_timeout_seconds=1800)


def test_development_webhook_secret_is_refused_when_webhooks_go_out_in_production() -> None:
    production = {
        "environment": "production",
        "amqp_url": "amqp://svc:pw@h/warren",
        "database_url": "postgresql+asyncpg://h/db",
    }
    NotificationSettings(**production)  # no webhook, no secret needed
    with pytest.raises(ValidationError, match="WEBHOOK_SECRET"):
        NotificationSettings(**production, webhook_url="https://merchant.example/hooks")


def test_each_delivery_task_carries_its_channel_rate_limit_when_the_app_is_built() -> None:
    app = create_celery_app(NotificationSettings(email_rate_limit="7/s", webhook_rate_limit="3/m"))
    assert app.tasks["notification.deliver_email"].rate_limit == "7/s"
    assert app.tasks["notification.deliver_webhook"].rate_limit == "3/m"
    assert app.tasks["notification.deliver_email"].acks_late is True
    assert app.tasks["notification.deliver_email"].reject_on_worker_lost is True
    assert app.tasks["notification.deliver_email"].max_retries is None  # attempts are bounded by the service
