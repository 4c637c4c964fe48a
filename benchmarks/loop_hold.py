"""How long the rule snapshot and the estate state hold the event loop at 100,000 detectors, made in place
and in a forked child (gateway/pipeline/forked.py): a probe coroutine sleeping 1 ms records the worst lag
while each runs. `python -m benchmarks.loop_hold` (also in `make bench`)."""

from __future__ import annotations

import asyncio
import pickle
import time
from collections.abc import Callable

from alerts.engine import Engine
from alerts.site import compile_site_model
from alerts.status import estate_status
from gateway.pipeline.forked import in_fork
from gateway.pipeline.status_lines import StatusEncoder
from sensors.index import compile_index
from sensors.registry import SiteRegistry
from simulators import estate


async def _run() -> None:
    registry = SiteRegistry.model_validate(
        estate.small_estate(site="t1", buildings=100, units=10, households_per_unit=100)
    )
    index = compile_index([registry])
    engine = Engine(compile_site_model([registry], index))
    encoder = StatusEncoder(engine.model)
    worst = [0.0]

    async def probe() -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            worst[0] = max(worst[0], time.perf_counter() - t - 0.001)

    def snapshot() -> bytes:
        return engine.snapshot()

    def state() -> bytes:
        return pickle.dumps(encoder.encode(estate_status(engine, time.time())))

    async def held(work: Callable[[], bytes], forked: bool) -> tuple[float, float]:
        await asyncio.sleep(0.05)
        worst[0] = 0.0
        t = time.perf_counter()
        if forked:
            await in_fork(work)
        else:
            work()
        took = time.perf_counter() - t
        await asyncio.sleep(0.05)
        return worst[0] * 1000, took * 1000

    probing = asyncio.create_task(probe())
    rss = int(open("/proc/self/statm").read().split()[1]) * 4096 >> 20  # noqa: SIM115, ASYNC230
    for label, work in (("rule snapshot", snapshot), ("estate state", state)):
        for forked in (False, True):
            runs = [await held(work, forked) for _ in range(3)]
            hold = ", ".join(f"{h:.0f}" for h, _ in runs)
            took = ", ".join(f"{w:.0f}" for _, w in runs)
            where = "in a forked child" if forked else "in place"
            print(f"{label} {where}: loop held {hold} ms (work took {took} ms); process RSS {rss} MB")
    probing.cancel()


def main() -> None:
    asyncio.run(_run())


if __name__ == "__main__":
    main()
