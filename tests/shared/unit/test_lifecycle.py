import asyncio

import pytest

from shared.runtime.lifecycle import CallbackComponent, Lifecycle


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def component(self, name: str, *, fail_start: bool = False, hang_stop: bool = False) -> CallbackComponent:
        async def start() -> None:
            self.calls.append(f"start {name}")
            if fail_start:
                raise RuntimeError(f"{name} cannot start")

        async def stop() -> None:
            self.calls.append(f"stop {name}")
            if hang_stop:
                await asyncio.Event().wait()

        return CallbackComponent(name, start, stop)


async def test_components_stop_in_reverse_order_when_lifecycle_stops() -> None:
    rec = Recorder()
    lifecycle = Lifecycle([rec.component("relay"), rec.component("consumers"), rec.component("http")])
    await lifecycle.start()
    await lifecycle.stop()
    assert rec.calls == [
        "start relay",
        "start consumers",
        "start http",
        "stop http",
        "stop consumers",
        "stop relay",
    ]


async def test_started_components_are_stopped_when_a_later_one_fails_to_start() -> None:
    rec = Recorder()
    lifecycle = Lifecycle(
        [rec.component("relay"), rec.component("consumers", fail_start=True), rec.component("http")]
    )
    with pytest.raises(RuntimeError, match="consumers cannot start"):
        await lifecycle.start()
    assert rec.calls == ["start relay", "start consumers", "stop relay"]


async def test_stop_moves_on_when_a_component_exceeds_its_stop_timeout() -> None:
    rec = Recorder()
    lifecycle = Lifecycle([rec.component("relay"), rec.component("stuck", hang_stop=True)], stop_timeout=0.05)
    await lifecycle.start()
    await lifecycle.stop()
    assert rec.calls[-2:] == ["stop stuck", "stop relay"]
