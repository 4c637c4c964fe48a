"""Work done in a forked child sees the state of the instant it was made, and the parent goes on."""

from __future__ import annotations

import asyncio
import os
import time

import numpy as np
import pytest

from gateway.errors import ForkFailed
from gateway.pipeline.forked import in_fork


async def test_the_child_sees_the_state_when_it_was_made_and_the_loop_goes_on() -> None:
    state = np.zeros(1_000_000)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    def work() -> bytes:
        time.sleep(0.3)  # slow work in the child
        return state.tobytes()

    ticker = asyncio.create_task(tick())
    pending = asyncio.ensure_future(in_fork(work))
    await asyncio.sleep(0.05)
    state[:] = 1.0  # the parent changes its state while the child works on its copy
    data = await pending
    ticker.cancel()
    assert np.frombuffer(data).sum() == 0.0
    assert ticks >= 10  # the loop was never held for the child's 0.3 s


async def test_a_failing_child_is_reported_not_hidden() -> None:
    def boom() -> bytes:
        raise RuntimeError("no")

    with pytest.raises(ForkFailed, match="exited 1"):
        await in_fork(boom)

    def killed() -> bytes:
        os.kill(os.getpid(), 9)
        return b""

    with pytest.raises(ForkFailed, match="signal 9"):
        await in_fork(killed)


async def test_large_results_come_back_whole() -> None:
    blob = os.urandom(5 << 20)
    assert await in_fork(lambda: blob) == blob
