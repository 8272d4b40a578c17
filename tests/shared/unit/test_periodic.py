import asyncio

from shared.runtime.periodic import PeriodicTask


async def test_periodic_task_keeps_running_when_a_round_fails_and_stops_when_asked() -> None:
    rounds = 0
    third_round = asyncio.Event()

    async def work() -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 3:
            third_round.set()
        if rounds == 1:
            raise ConnectionError("database briefly away")

    task = PeriodicTask("sweeper", work, interval=0)
    await task.start()
    await asyncio.wait_for(third_round.wait(), timeout=5)
    await task.stop()
    assert rounds >= 3  # the failed first round did not end the loop
