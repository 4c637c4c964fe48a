"""Escalation timers over 10,000 open work orders (docs/benchmarks.md, "Work-order clocks"): how long after
its threshold (50, 80, 100 % of a clock) each escalation is committed to the store, p50/p99/max.

- event time: 9,000 orders filed over one day in the categories' mix plus 1,000 battery orders an alarm
  storm opened in the same second, none claimed, run through two days of event time (every claim clock's
  three levels, and the levels of the resolve clocks that short). The watcher's own loop runs (`OrderClock.run`) with a sleep that
  moves the clock on at once instead of waiting, so the figure is the work: the heap, the store's re-read of
  the orders, the events' commit. The 1,000 orders due at the same instant are one burst.
- real time: 10,000 other open orders, 2,000 of them with a threshold in the next 10 s (the rest days
  away), the watcher sleeping on the event loop as it does in the gateway.

SQLite in WAL mode, on this machine's disk; escalations are recorded and no notifier is attached (its own
figures are in benchmarks/notify_latency.py and benchmarks/ladder.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gateway.store.db import Store, open_store, sqlite_url
from gateway.store.order_clock import OrderClock
from gateway.store.order_flow import CATEGORIES, DAY, clocks
from gateway.store.schema import WorkOrder
from gateway.store.work_orders import fresh_order

ORDERS = int(os.environ.get("BENCH_ORDERS", "10000"))
BURST = ORDERS // 10
SOON = ORDERS // 5
WINDOW = 10.0
LEAD = 5.0
SPAN = 2 * 86400.0
"""Event time run: two days of clocks (every claim clock's levels, the short resolve clocks')."""
T0 = 1_780_000_000.0


class EventTime:
    """The clock the watcher reads: real time passing while it works, plus every sleep skipped at once."""

    def __init__(self, start: float) -> None:
        self.offset = start - time.perf_counter()

    def __call__(self) -> float:
        return self.offset + time.perf_counter()

    async def sleep(self, seconds: float) -> None:
        self.offset += seconds
        await asyncio.sleep(0)


def order(i: int, category: str, created: float) -> WorkOrder:
    o = fresh_order(
        site="t1", building=f"b{i % 100}", unit="", household=f"h-{i:05d}", device="", category=category,
        priority="P1" if category == "gas_smell" else "P3", description="bench", state="submitted",
        requester="account:bench", requester_account="bench", assignee="", alarm_ids=[], cause="", now=created,
    )  # fmt: skip
    o.id = f"wo-bench-{i:05d}"
    return o


async def fill(store: Store, orders: list[WorkOrder]) -> None:
    async with store.session() as s, s.begin():
        s.add_all(orders)


def figures(name: str, lateness: list[float]) -> str:
    ms = sorted(x * 1000 for x in lateness)

    def pick(q: float) -> float:
        return ms[min(len(ms) - 1, int(q * len(ms)))]

    return f"{name}: {len(ms):,} escalations, fire - due p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms, max {ms[-1]:.1f} ms"


async def until(done: Callable[[], bool], task: asyncio.Task[None], limit: float) -> None:
    """Let the watcher run until `done` (polled: the watcher has no event for it), then stop it."""
    started = time.monotonic()
    while not done() and time.monotonic() - started < limit:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def event_time(tmp: Path) -> None:
    rng = random.Random(24)
    mix = [c for c in CATEGORIES if c != "battery"]
    orders = [order(i, rng.choice(mix), T0 + rng.uniform(0, DAY)) for i in range(ORDERS - BURST)]
    orders += [order(i, "battery", T0 + 3600.0) for i in range(ORDERS - BURST, ORDERS)]
    async with open_store(sqlite_url(tmp / "event.sqlite3")) as store:
        await fill(store, orders)
        clock = EventTime(T0)
        watch = OrderClock(store, None, clock=clock)
        watch.measure = True
        started = time.perf_counter()
        watched = await watch.load()
        loaded = time.perf_counter() - started
        print(
            f"order clocks: {watched:,} open orders loaded in {loaded * 1000:.0f} ms, {len(watch.heap):,} timers"
        )
        started = time.perf_counter()
        task = asyncio.create_task(watch.run(sleep=clock.sleep))
        await until(lambda: clock() >= T0 + SPAN, task, 600.0)
        took = time.perf_counter() - started
        print(
            f"  event time, {clock() - T0:,.0f} s of clocks in {took:.1f} s, {len(watch.heap):,} timers left"
        )
        print("  " + figures("event time", watch.lateness))
        late = sum(x > 0.05 for x in watch.lateness)
        print(
            f"  of them later than 50 ms: {late:,}; later than 1 s: {sum(x > 1.0 for x in watch.lateness):,}"
        )


async def real_time(tmp: Path) -> None:
    rng = random.Random(25)
    async with open_store(sqlite_url(tmp / "real.sqlite3")) as store:
        now = time.time()
        far = [order(i, rng.choice(CATEGORIES), now + rng.uniform(0, DAY)) for i in range(SOON, ORDERS)]
        await fill(store, far)
        now = time.time() + LEAD  # the window opens once the store is filled and the watcher loaded
        soon = []
        for i in range(SOON):  # its claim clock's 50 % falls within the window
            category = rng.choice(CATEGORIES)
            claim_s, _ = clocks(category, "P1" if category == "gas_smell" else "P3")
            soon.append(order(i, category, now + rng.uniform(0, WINDOW) - 0.5 * claim_s))
        await fill(store, soon)
        watch = OrderClock(store, None, clock=time.time)
        watch.measure = True
        await watch.load()
        if time.time() > now:
            print("  (real time: loading took longer than the window's lead; the first ones are late)")
        task = asyncio.create_task(watch.run())
        await until(lambda: watch.escalated >= SOON, task, LEAD + WINDOW + 20.0)
        print(
            "  " + figures(f"real time, {ORDERS:,} open, {SOON:,} due within {WINDOW:.0f} s", watch.lateness)
        )


async def _run() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="guardian-order-clock-"))
    await event_time(tmp)
    await real_time(tmp)


def main() -> None:
    asyncio.run(_run())


if __name__ == "__main__":
    main()
