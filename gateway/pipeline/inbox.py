"""What comes back to the alarm stage from people and from the notifier: acknowledgements (a signed link,
the API, the console) and alarms about the system itself (a channel refusing, an alarm that reached nobody).

The notifier is built before the alarm stage (the stage's listeners include it) and the stage is what it
reports to, so they meet here: both are given this inbox when they are built, and the stage's own task
takes from it. The engine then has one writer, the stage's task, whatever calls in.

Bounded: at most `LIMIT` items wait. An acknowledgement beyond it waits for room (its caller, an HTTP
request, waits with it); a system signal beyond it is dropped and counted in
`guardian_alarm_inbox_dropped_total`: they are rare (one per refusing target, one per unreached alarm),
and ten thousand waiting means the stage is stuck, which /healthz already reports.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Counter

from alerts.signals import Acknowledgement, Signal, Transition

log = logging.getLogger(__name__)

LIMIT = 10_000

Item = tuple[Acknowledgement, "asyncio.Future[list[Transition]]"] | tuple[Signal, None]


class AlarmInbox:
    def __init__(self, dropped: Counter | None = None, limit: int = LIMIT) -> None:
        self._queue: asyncio.Queue[Item] = asyncio.Queue(limit)
        self._dropped = dropped

    async def acknowledge(self, ack: Acknowledgement) -> list[Transition]:
        """Into the engine through the stage's task; returns the transitions it made."""
        done: asyncio.Future[list[Transition]] = asyncio.get_running_loop().create_future()
        await self._queue.put((ack, done))
        return await done

    def report(self, s: Signal) -> None:
        """A system alarm, from synchronous code (the notifier settling a delivery)."""
        try:
            self._queue.put_nowait((s, None))
        except asyncio.QueueFull:
            if self._dropped is not None:
                self._dropped.inc()
            log.error("alarm inbox full: system alarm %s for %s dropped", s.rule, s.subject)

    async def get(self) -> Item:
        return await self._queue.get()
