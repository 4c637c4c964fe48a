"""What /healthz reports: each dependency's state, set by the task that talks to it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Component:
    ok: bool = False
    error: str | None = None
    since: float = 0.0

    def set(self, ok: bool, now: float, error: str | None = None) -> None:
        if ok != self.ok:
            self.since = now
        self.ok = ok
        self.error = None if ok else error


@dataclass(slots=True)
class Health:
    clock: Callable[[], float]
    mqtt: Component = field(default_factory=Component)
    influx: Component = field(default_factory=Component)
    spool_depth: Callable[[], int] = lambda: 0
    spool_fault: Callable[[], str | None] = lambda: None
    """Why spool commits fail (a full disk), while ingest retries them; None when they succeed."""
    stale_after: float = 20.0
    """Seconds without a heartbeat after which the gateway is not live (maintenance beats at 2 Hz)."""
    beat_at: float | None = None
    """time.monotonic() of the last heartbeat; None before the first."""
    nats: Component | None = None
    """A district API replica's link to the NATS cluster; it has no MQTT session (then `mqtt` is unused)."""

    def beat(self) -> None:
        """Called by the maintenance child on every tick: the loop runs and the composition is alive."""
        self.beat_at = time.monotonic()

    def live(self) -> bool:
        """Alive, which is not the same as ok: a gateway spooling through an InfluxDB outage is live and
        degraded. Only a stale heartbeat (a blocked loop, a stopped composition) is not live; it is what
        the systemd watchdog restarts (gateway/observe/systemd.py)."""
        return self.beat_at is not None and time.monotonic() - self.beat_at <= self.stale_after

    @property
    def ok(self) -> bool:
        link = self.mqtt.ok if self.nats is None else self.nats.ok
        return link and self.influx.ok and self.spool_fault() is None

    def report(self) -> dict[str, Any]:
        def part(c: Component) -> dict[str, Any]:
            return {"ok": c.ok, "error": c.error, "since": c.since}

        link = {"mqtt": part(self.mqtt)} if self.nats is None else {"nats": part(self.nats)}
        return {
            "status": "ok" if self.ok else "degraded",
            "live": self.live(),
            "time": self.clock(),
            **link,
            "influx": part(self.influx),
            "spool": {
                "depth": self.spool_depth(),
                "ok": (fault := self.spool_fault()) is None,
                "error": fault,
            },
        }
