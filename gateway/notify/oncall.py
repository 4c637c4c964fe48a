"""Who is on duty at a given moment: the duty roster held in memory, for the directory to ask per alarm.

The notification decision must not wait on a database, so the shifts (a few per officer and day) are read
from the store into a small table per duty, sorted by start, and replaced whole: at start, after every edit
through the API, and every `period` seconds by a named TaskGroup child (another gateway of the district may
have edited the same store). A lookup is a bisect and a short walk back, bounded by the duty's longest
shift, with no I/O and no clock: the time asked about is the alarm's own (`Transition.ts`), so a replay
escalates to whoever was on duty then.

When no shift covers the time the directory falls back to everyone of the grid or desk: an alarm never
reaches nobody because the roster has a hole. Each fallback is counted; each hole is logged once.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from prometheus_client import Counter

from gateway.errors import StoreError

log = logging.getLogger(__name__)

Duty = tuple[str, str, str]
"""(site, role, place): a grid's officers ("officer", grid id) or a site desk ("property" or
"maintenance", "")."""

LOGGED_GAPS_MAX = 10_000
"""Holes remembered as already logged; past this the memory starts over (a hole may be logged again)."""


@dataclass(frozen=True, slots=True)
class Shift:
    site: str
    role: str
    place: str
    person: str
    start: float
    end: float

    @property
    def duty(self) -> Duty:
        return (self.site, self.role, self.place)


class DutyTable:
    """One duty's shifts, sorted by start (shifts of different people may overlap: two on duty at once)."""

    __slots__ = ("ends", "longest", "people", "starts")

    def __init__(self, shifts: Sequence[Shift]) -> None:
        ordered = sorted(shifts, key=lambda s: (s.start, s.end, s.person))
        self.starts = [s.start for s in ordered]
        self.ends = [s.end for s in ordered]
        self.people = [s.person for s in ordered]
        self.longest = max((s.end - s.start for s in ordered), default=0.0)

    def at(self, ts: float) -> tuple[tuple[str, ...], float]:
        """Who is on duty at `ts` (start inclusive, end exclusive), in order of their shift's start; and the
        start of the next shift after `ts`, which names the hole `ts` is in when nobody is."""
        i = bisect.bisect_right(self.starts, ts)
        on: list[str] = []
        j = i - 1
        while j >= 0 and self.starts[j] > ts - self.longest - 1:
            if self.ends[j] > ts and self.people[j] not in on:
                on.append(self.people[j])
            j -= 1
        on.reverse()
        return tuple(on), self.starts[i] if i < len(self.starts) else math.inf


class OnCall:
    """The roster every directory lookup reads; `load` reads the store's shifts around `now`."""

    def __init__(
        self,
        load: Callable[[float], Awaitable[list[Shift]]],
        *,
        clock: Callable[[], float],
        fallbacks: Counter | None = None,
        period: float = 60.0,
    ) -> None:
        if not 1.0 <= period <= 3600.0:
            raise ValueError(f"roster refresh period {period} s: between 1 s and an hour")
        self._load = load
        self._clock = clock
        self._fallbacks = fallbacks
        self.period = period
        self._tables: dict[Duty, DutyTable] = {}
        self._logged: set[tuple[Duty, float]] = set()
        self.loaded = 0
        """Shifts in the table now."""

    def replace(self, shifts: Sequence[Shift]) -> None:
        """The whole roster at once: a lookup sees the old table or the new one, never half of each."""
        by_duty: dict[Duty, list[Shift]] = {}
        for s in shifts:
            by_duty.setdefault(s.duty, []).append(s)
        self._tables = {duty: DutyTable(rows) for duty, rows in by_duty.items()}
        self.loaded = len(shifts)

    async def reload(self) -> int:
        """Read the roster from the store now (after an edit, and periodically); raises StoreError."""
        shifts = await self._load(self._clock())
        self.replace(shifts)
        return len(shifts)

    def rostered(self, duty: Duty, ts: float) -> tuple[str, ...]:
        table = self._tables.get(duty)
        return () if table is None else table.at(ts)[0]

    def pick(self, duty: Duty, ts: float, everyone: tuple[str, ...]) -> tuple[str, ...]:
        """Those of `everyone` on duty at `ts`, or `everyone` when no shift of theirs covers it (counted,
        and logged once per hole). A rostered person no longer of that grid or desk is not told."""
        if not everyone:
            return everyone
        table = self._tables.get(duty)
        nxt = math.inf
        if table is not None:
            on, nxt = table.at(ts)
            chosen = tuple(p for p in on if p in everyone)
            if chosen:
                return chosen
        site, role, place = duty
        if self._fallbacks is not None:
            self._fallbacks.labels(site=site, role=role).inc()
        gap = (duty, nxt)
        if gap not in self._logged:
            if len(self._logged) >= LOGGED_GAPS_MAX:
                self._logged.clear()
            self._logged.add(gap)
            if table is None:
                log.info(
                    "site %s: nobody is rostered for %s %s: telling all %d", site, role, place, len(everyone)
                )
            else:
                log.warning(
                    "site %s: no shift of %s %s covers %.0f (next starts %s): telling all %d",
                    site,
                    role,
                    place or "desk",
                    ts,
                    "never" if math.isinf(nxt) else f"{nxt:.0f}",
                    len(everyone),
                )
        return everyone

    async def run(self) -> None:
        """Re-read the roster every `period` seconds (jittered, so a district's gateways spread out); a
        store that does not answer is asked again sooner, with capped, jittered backoff."""
        failures = 0
        while True:
            wait = self.period if failures == 0 else min(self.period, 2.0 * 2 ** (failures - 1))
            await asyncio.sleep(random.uniform(0.8, 1.0) * wait)
            try:
                await self.reload()
            except StoreError as exc:
                failures += 1
                if failures == 1:
                    log.warning("duty roster: the store did not answer (%s); keeping the roster held", exc)
                continue
            if failures:
                log.info("duty roster: read again after %d failed attempt(s)", failures)
            failures = 0
