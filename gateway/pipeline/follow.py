"""Follow the spool by id, taking the fast in-memory hand-off when it is contiguous.

A stage downstream of the spool (the rule processor, the InfluxDB exporter) must see every message id
exactly once, in order, across restarts, and a slow stage must never hold up the one before it. So the
previous stage *offers* its output into a small bounded deque; when the deque is full the offer is dropped
and counted, and the follower later reads that id range back from the spool itself and rebuilds the item
with `load`. Overflow thus costs a re-read, never a message.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from gateway.pipeline.spool import Spool
from sensors.columns import RawMessage

T = TypeVar("T")


class Follower(Generic[T]):
    def __init__(
        self,
        spool: Spool,
        *,
        after: int,
        load: Callable[[list[RawMessage]], T],
        capacity: int = 8,
        chunk: int = 5000,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        self.spool = spool
        self.after = after  # every id <= after has been handed out
        self._load = load
        self._queue: deque[tuple[int, int, T]] = deque()
        self._capacity = capacity
        self._chunk = chunk
        self._wakeup = asyncio.Event()
        self._on_overflow = on_overflow

    def offer(self, first: int, last: int, item: T) -> None:
        """Hand over the item for ids first..last; dropped (and re-read later) if the stage is behind."""
        if len(self._queue) >= self._capacity:
            if self._on_overflow is not None:
                self._on_overflow()
        else:
            self._queue.append((first, last, item))
        self._wakeup.set()

    def notify(self) -> None:
        """The spool has new rows (whose offer may have been dropped)."""
        self._wakeup.set()

    def _head(self) -> tuple[int, int, T] | None:
        """The oldest offered item not yet passed, after dropping those the cursor already covers."""
        queue = self._queue
        while queue and queue[0][1] <= self.after:
            queue.popleft()
        return queue[0] if queue else None

    def ready(self) -> bool:
        """True when `next()` would return an offered item at once."""
        head = self._head()
        return head is not None and head[0] == self.after + 1

    async def next(self) -> tuple[int, int, T]:
        while True:
            expected = self.after + 1
            head = self._head()
            if head is not None and head[0] == expected:
                first, last, item = self._queue.popleft()
                self.after = last
                return first, last, item
            if self.spool.last_id >= expected:
                until = head[0] - 1 if head is not None else None
                rows = await self.spool.read(self.after, self._chunk, until)
                if rows:
                    self.after = rows[-1].id
                    return rows[0].id, rows[-1].id, self._load(rows)
                if until is not None:
                    # ids up to the queued item were never committed (cannot happen) or trimmed: skip
                    self.after = until
                    continue
            self._wakeup.clear()
            await self._wakeup.wait()
