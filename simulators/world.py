"""A whole estate living through time: every household's detectors and every unit's door, stepped together.

`World(registry, start, seed)` builds the devices of a registry with normal life on them; scenarios put
hazards and faults on its households (`world.households[...]`) before or while it runs. `window(a, b)`
returns every message of [a, b) in event time order, so the same world feeds `guardian replay` (JSONL),
`guardian evaluate` (in memory, a day at a time) and a live MQTT fleet (a second at a time).
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from simulators import life
from simulators.devices import Detector, Door, Out, jsonl

DAY = 86400.0


class World:
    def __init__(
        self,
        registry: dict[str, Any],
        start: float,
        *,
        seed: int = 1,
        life_on: bool = True,
        mains_heartbeat: float = 180.0,
    ) -> None:
        self.site = str(registry["site"])
        self.zone = ZoneInfo(str(registry.get("timezone", "Asia/Shanghai")))
        self.rng = np.random.default_rng(seed)
        self.start = start
        self.life_on = life_on
        self.doors: dict[str, Door] = {}
        self.households: dict[str, life.Household] = {}
        for b in registry["buildings"]:
            for u in b["units"]:
                door = None
                for d in u.get("doors", []):
                    self.doors[d] = Door(site=self.site, id=d)
                    door = door or self.doors[d]
                for h in u["households"]:
                    if not h.get("sensors"):
                        continue
                    self.households[str(h["id"])] = life.household(
                        self.site, h, door, self.rng, start, mains_heartbeat
                    )
        self.detectors: list[Detector] = [
            d for hh in self.households.values() for d in (hh.kitchen, hh.heater) if d is not None
        ]
        self._planned = dt.datetime.fromtimestamp(start, self.zone).date() - dt.timedelta(days=1)

    def local_date(self, t: float) -> dt.date:
        return dt.datetime.fromtimestamp(t, self.zone).date()

    def _plan(self, until: float) -> None:
        """Lay out each household's day once, a little before it starts (meals and trips are in it)."""
        last = self.local_date(until + 6 * 3600)
        while self._planned < last:
            self._planned += dt.timedelta(days=1)
            if not self.life_on:
                continue
            midnight = life.local_midnight(self._planned, self.zone)
            for hh in self.households.values():
                life.day(hh, self._planned, midnight, self.rng)

    def window(self, start: float, end: float) -> Out:
        self._plan(end)
        parts: list[Out] = []
        for d in self.detectors:
            d.co = [p for p in d.co if p.until >= start]
            d.lel = [p for p in d.lel if p.until >= start]
            parts.append(d.window(start, end, self.rng))
        for door in self.doors.values():
            parts.append(door.window(start, end, self.rng))
        return list(heapq.merge(*parts, key=lambda x: x[0]))

    def lines(
        self, start: float, end: float, step: float = DAY, progress: Callable[[float], None] | None = None
    ) -> Iterator[bytes]:
        """Replay JSONL, generated `step` seconds at a time; `progress` hears the share done after each."""
        t = start
        while t < end:
            for m in self.window(t, min(t + step, end)):
                yield jsonl(m)
            t += step
            if progress:
                progress(min(1.0, (t - start) / (end - start)))
