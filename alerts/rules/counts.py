"""Counted rules: so many door events within a window, per device or per person (`row.Counted`).

The last `count` times are kept per (rule, key) in a bounded deque; a rule whose alarm clears after a
quiet window keeps a column of whether it stands and when its event was last seen, and the clock clears it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from alerts.evidence import Deadline, Evidence
from alerts.rule import Counted, Rule
from alerts.rules.base import NAN, Each, Emit, Pick, State
from alerts.settings import AlertSettings
from alerts.signals import Signal
from alerts.site import SiteModel


class Counts(State):
    def __init__(self, rows: Sequence[Rule], names: Sequence[str], model: SiteModel, emit: Emit) -> None:
        self._rows = tuple(rows)
        self._specs = tuple(_spec(r) for r in self._rows)
        self._model = model
        self._emit = emit
        n = len(model.index)
        self._standing = [j for j, s in enumerate(self._specs) if s.clears_after_window]
        self.count_on = np.zeros((len(self._standing), n), dtype=np.bool_)  # a row per standing rule
        self.count_last = np.full((len(self._standing), n), NAN)
        self.windows: dict[tuple[str, str], deque[float]] = {}
        self._table: dict[int, list[int]] = {}
        for j, spec in enumerate(self._specs):
            if spec.event not in names:
                raise ValueError(
                    f"{self._rows[j].id}: {spec.event!r} is not a door event of the wire contract"
                )
            self._table.setdefault(names.index(spec.event), []).append(j)

    def handle(
        self,
        st: AlertSettings,
        dev: int,
        t: float,
        code: int,
        person: str,
        ev: Evidence,
        out: list[Signal],
    ) -> None:
        for j in self._table.get(code, ()):
            rule, spec = self._rows[j], self._specs[j]
            site = self._model.index.site[dev]
            if spec.per == "person":
                if not person:
                    continue
                key = f"{site}/{person}"
            else:
                key = f"{site}/{dev}"
            standing = self._standing.index(j) if spec.clears_after_window else -1
            if standing >= 0:
                self.count_last[standing, dev] = t
            if not self._count((rule.id, key), t, getattr(st, spec.window), getattr(st, spec.count)):
                continue
            if standing >= 0:
                if self.count_on[standing, dev]:
                    continue
                self.count_on[standing, dev] = True
            if spec.per == "person":
                where = self._model.where(dev)
                out.append(Signal(ts=t, rule=rule.id, subject=person, on=True, where=where, evidence=ev))
            else:
                out.append(self._emit(rule, dev, t, True, ev))

    def due(
        self,
        st: AlertSettings,
        pick: Pick,
        each: Each,
        now: float,
        out: list[Signal],
    ) -> None:
        for standing, j in enumerate(self._standing):
            rule, window = self._rows[j], float(getattr(st, self._specs[j].window))
            on, last = self.count_on[standing], self.count_last[standing]
            for dev in each(pick(on) & (now - pick(last) >= window)):
                on[dev] = False
                at = float(last[dev] + window)
                out.append(self._emit(rule, dev, at, False, Deadline(ts=at)))

    def _count(self, key: tuple[str, str], t: float, window: float, threshold: int) -> bool:
        times = self.windows.setdefault(key, deque(maxlen=threshold))
        times.append(t)
        return len(times) >= threshold and t - times[0] <= window


def _spec(rule: Rule) -> Counted:
    if not isinstance(rule.trigger, Counted):
        raise ValueError(f"{rule.id} is not a counted rule")
    return rule.trigger
