"""The states waiting to go to one household's Home Assistant: the latest per entity, at most one a second.

A detector reports every few seconds and a burst (a gas leak, a concentrator catching up) can bring dozens
of readings a second; Home Assistant needs the current value, not each one. So this is no queue of
messages but a map from state topic to the latest payload not yet sent: a new value replaces the one
waiting (the overflow rule is *coalesce to the latest*), and an entity's value goes out at most once per
`interval` seconds, measured on the gateway's clock. It is bounded by the household's entities (tens);
`limit` only guards against a bug that invents topics, and a topic past it is dropped and counted.

A value equal to the one last sent is not sent again. After a reconnect, or when Home Assistant says it
came back online, `resend_all` puts every last known value back in line (the rate still holds).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class LatestStates:
    def __init__(self, interval: float = 1.0, limit: int = 1024) -> None:
        self.interval = interval
        self.limit = limit
        self.dropped = 0
        self._waiting: dict[str, bytes] = {}
        self._last: dict[str, bytes] = {}
        self._sent_at: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def put(self, topic: str, payload: bytes) -> bool:
        """The entity's newest value; True when something now waits to be sent."""
        if topic not in self._waiting and self._last.get(topic) == payload:
            return False
        if topic not in self._waiting and topic not in self._last and len(self._last) >= self.limit:
            self.dropped += 1
            log.error("Home Assistant state for %s dropped: more than %d entities", topic, self.limit)
            return False
        self._waiting[topic] = payload
        self._last[topic] = payload
        return True

    def latest(self, topic: str) -> bytes | None:
        return self._last.get(topic)

    def due(self, now: float) -> list[tuple[str, bytes]]:
        """The waiting values whose entity has not been sent for `interval` seconds; they count as sent."""
        out: list[tuple[str, bytes]] = []
        for topic, payload in list(self._waiting.items()):
            if now - self._sent_at.get(topic, float("-inf")) >= self.interval:
                out.append((topic, payload))
                del self._waiting[topic]
                self._sent_at[topic] = now
        return out

    def wait(self, now: float) -> float | None:
        """Seconds until the next waiting value may go; None when nothing waits."""
        if not self._waiting:
            return None
        soonest = min(self._sent_at.get(t, float("-inf")) for t in self._waiting) + self.interval
        return max(0.0, soonest - now)

    def resend_all(self) -> None:
        """Every last known value waits again (a new connection, Home Assistant restarted)."""
        for topic, payload in self._last.items():
            self._waiting[topic] = payload

    def forget(self) -> list[str]:
        """Every topic known, forgotten: what an opt-out clears from the broker."""
        topics = list(self._last)
        self._waiting.clear()
        self._last.clear()
        self._sent_at.clear()
        return topics
