"""Requests counted per client address in this process, for unauthenticated routes whose answers must not
be harvested by trying (short links). The sign-in throttle, which must hold across API replicas, counts in
the store instead (`gateway.store.signins`)."""

from __future__ import annotations

from collections import OrderedDict, deque


class ClientRate:
    """At most `per_minute` requests a minute from one client address, for unauthenticated routes whose
    answers must not be harvested by trying (short links). Bounded: the least recently seen addresses are
    forgotten first, so a flood of made-up addresses cannot grow the table."""

    def __init__(self, per_minute: int = 60, keys: int = 10_000) -> None:
        self.per_minute = per_minute
        self.keys = keys
        self.seen: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, address: str, now: float) -> float:
        """Seconds until this client may ask again (0: now, and the request is counted)."""
        times = self.seen.get(address) or deque()
        while times and times[0] <= now - 60.0:
            times.popleft()
        if len(times) >= self.per_minute:
            return times[0] + 60.0 - now
        times.append(now)
        self.seen[address] = times
        self.seen.move_to_end(address)
        while len(self.seen) > self.keys:
            self.seen.popitem(last=False)
        return 0.0
