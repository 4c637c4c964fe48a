"""What /healthz reports: each dependency's state, set by the task that talks to it."""

from __future__ import annotations

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

    @property
    def ok(self) -> bool:
        return self.mqtt.ok and self.influx.ok and self.spool_fault() is None

    def report(self) -> dict[str, Any]:
        def part(c: Component) -> dict[str, Any]:
            return {"ok": c.ok, "error": c.error, "since": c.since}

        return {
            "status": "ok" if self.ok else "degraded",
            "time": self.clock(),
            "mqtt": part(self.mqtt),
            "influx": part(self.influx),
            "spool": {
                "depth": self.spool_depth(),
                "ok": (fault := self.spool_fault()) is None,
                "error": fault,
            },
        }
