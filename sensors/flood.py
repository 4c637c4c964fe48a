"""Flood control: one device sending far above any detector's rate must not crowd out the others.

A detector reports about once a minute, a door controller a few times a minute at the busiest door; a
broken or hijacked one can send thousands a second from its own (authorised) topic. Each device has a
token bucket over receive time: `burst` messages at once (so a backlog a device or broker held through an
outage of hours still arrives whole), then `rate` a second. Messages beyond it are dropped with the reason
`rate_limited`; a detector's own alarm events (`alarm_co`, `alarm_gas`) are never dropped, though they use
up the bucket like any other message.

Applied where messages arrive, before the spool: every later stage (rules, InfluxDB, a restart's catch-up)
then sees the same messages, and a flood cannot fill the disk. Pure numpy over device indices in arrival
order; the receive time is passed in.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sensors.columns import F64, I32, Bool


def is_alarm_event(topic: str, payload: bytes) -> bool:
    """A detector's own alarm, never dropped (a payload that only pretends is rejected when decoded)."""
    return topic.endswith("/event") and (b'"alarm_co"' in payload or b'"alarm_gas"' in payload)


class FloodGuard:
    def __init__(self, devices: int, *, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens: npt.NDArray[np.float32] = np.full(devices, burst, dtype=np.float32)
        self.last: F64 = np.full(devices, -np.inf)
        self.last_drop: dict[int, float] = {}  # devices that lost messages, a handful: 12 bytes a device less

    def admit(self, device: I32, now: float, exempt: Bool) -> Bool:
        """Which of these messages (in arrival order) pass; the buckets are charged for all of them."""
        if len(device) == 0:
            return np.ones(0, dtype=np.bool_)
        devices, inverse, counts = np.unique(device, return_inverse=True, return_counts=True)
        elapsed = np.maximum(now - self.last[devices], 0.0)
        tokens = np.minimum(self.burst, self.tokens[devices] + elapsed * self.rate)
        # each message's rank among its device's messages in this batch, in arrival order
        order = np.argsort(inverse, kind="stable")
        starts = np.cumsum(counts) - counts
        rank = np.empty(len(device), dtype=np.int64)
        rank[order] = np.arange(len(device)) - np.repeat(starts, counts)
        allowed: Bool = (rank < np.floor(tokens)[inverse]) | exempt
        self.tokens[devices] = np.maximum(tokens - counts, 0.0)
        self.last[devices] = now
        for d in np.unique(device[~allowed]).tolist():
            self.last_drop[d] = now
        return allowed

    def flooding(self, now: float, within: float = 60.0) -> int:
        """Devices that lost messages in the last `within` seconds (forgetting those that stopped)."""
        self.last_drop = {d: t for d, t in self.last_drop.items() if t > now - within}
        return len(self.last_drop)
