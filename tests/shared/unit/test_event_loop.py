"""The event loop a service runs on: uvloop by default, the standard loop on request, nonsense refused."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from shared.runtime.cli import event_loop_factory, service_main


def test_uvloop_is_the_default_choice_and_asyncio_means_the_standard_loop() -> None:
    assert event_loop_factory("uvloop") is uvloop.new_event_loop
    assert event_loop_factory("asyncio") is None


def test_an_unknown_event_loop_is_refused_with_the_choices_named() -> None:
    with pytest.raises(SystemExit, match="uvloop, asyncio"):
        event_loop_factory("trio")


@pytest.mark.parametrize(("setting", "expected"), [(None, uvloop.Loop), ("asyncio", asyncio.BaseEventLoop)])
def test_serve_runs_on_the_loop_the_service_setting_chooses(
    setting: str | None, expected: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    if setting is None:
        monkeypatch.delenv("FRAUD_EVENT_LOOP", raising=False)
    else:
        monkeypatch.setenv("FRAUD_EVENT_LOOP", setting)
    seen: list[asyncio.AbstractEventLoop] = []

    async def serve() -> None:
        seen.append(asyncio.get_running_loop())

    assert service_main("fraud", serve=serve, migrate=lambda: None, argv=["serve"]) == 0
    assert isinstance(seen[0], expected)
    if setting == "asyncio":
        assert not isinstance(seen[0], uvloop.Loop)
