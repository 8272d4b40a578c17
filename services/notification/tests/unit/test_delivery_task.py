from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from notification.config import NotificationSettings
from notification.domain.model import Channel
from notification.entrypoints import celery_tasks
from notification.service_layer.delivery import DeliveryResult, Outcome


class Retried(Exception):
    def __init__(self, **options: Any) -> None:
        super().__init__(options)
        self.options = options


@dataclass
class FakeRequest:
    id: str = "task-1"
    retries: int = 0


@dataclass
class FakeTask:
    request: FakeRequest = field(default_factory=FakeRequest)
    app: object = None

    def retry(self, **options: Any) -> Retried:
        return Retried(**options)


class FakeRuntime:
    def __init__(self, result: DeliveryResult | Exception, max_attempts: int = 5) -> None:
        self.settings = NotificationSettings(
            retry_base_seconds=2, retry_max_seconds=60, max_attempts=max_attempts
        )
        self.result = result
        self.store = None
        self.lease = None
        self.last_attempt_flags: list[bool] = []

    def sender(self, channel: Channel) -> None:
        return None

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> DeliveryResult:
        self.last_attempt_flags.append(coroutine.cr_frame.f_locals["last_attempt"])
        coroutine.close()
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@pytest.fixture
def use_runtime(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(runtime: FakeRuntime) -> FakeRuntime:
        monkeypatch.setattr(celery_tasks, "runtime", lambda app: runtime)
        return runtime

    return install


def test_task_schedules_a_retry_on_its_channel_queue_when_delivery_is_transient(use_runtime: Any) -> None:
    use_runtime(FakeRuntime(DeliveryResult(Outcome.RETRY, error="down", attempts=3)))
    task = FakeTask(FakeRequest(retries=2))
    with pytest.raises(Retried) as retried:
        celery_tasks.run_delivery(task, Channel.WEBHOOK, "n1")  # type: ignore[arg-type]
    assert retried.value.options["queue"] == "notifications.webhook"
    assert retried.value.options["max_retries"] is None
    assert 4 <= retried.value.options["countdown"] <= 8


def test_retry_waits_at_least_the_provider_hint_when_it_gives_one(use_runtime: Any) -> None:
    use_runtime(FakeRuntime(DeliveryResult(Outcome.RETRY, error="429", retry_after=30, attempts=1)))
    with pytest.raises(Retried) as retried:
        celery_tasks.run_delivery(FakeTask(), Channel.WEBHOOK, "n1")  # type: ignore[arg-type]
    assert retried.value.options["countdown"] == 30


def test_task_tells_delivery_it_is_the_last_attempt_when_attempts_run_out(use_runtime: Any) -> None:
    runtime = use_runtime(FakeRuntime(DeliveryResult(Outcome.FAILED, error="gave up", attempts=5)))
    assert celery_tasks.run_delivery(FakeTask(FakeRequest(retries=4)), Channel.EMAIL, "n1") == "failed"  # type: ignore[arg-type]
    assert runtime.last_attempt_flags == [True]


def test_task_leaves_a_busy_notification_to_its_holder_when_attempts_run_out(use_runtime: Any) -> None:
    use_runtime(FakeRuntime(DeliveryResult(Outcome.BUSY, attempts=1)))
    assert celery_tasks.run_delivery(FakeTask(FakeRequest(retries=4)), Channel.EMAIL, "n1") == "busy"  # type: ignore[arg-type]


def test_task_retries_when_its_database_is_unreachable(use_runtime: Any) -> None:
    use_runtime(FakeRuntime(OperationalError("SELECT 1", {}, Exception("connection refused"))))
    with pytest.raises(Retried) as retried:
        celery_tasks.run_delivery(FakeTask(), Channel.EMAIL, "n1")  # type: ignore[arg-type]
    assert retried.value.options["queue"] == "notifications.email"
