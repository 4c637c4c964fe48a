"""Every threshold rule's state in one (k, devices) matrix: one gather and one scatter per round.

A threshold row (`row.Threshold`) raises when its reading stays at or above a figure for a hold time and
clears when it stays at or below a release figure for a release hold. All such rules on one reading are
evaluated together: the k rows of the matrix are read for the round's devices at once (`np.take` along the
device axis: a tenth of the cost of fancy indexing a 2-D array), compared against the k figures of the
site's settings broadcast as a column, and written back one contiguous rule row at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from alerts.evidence import Deadline, Reading
from alerts.rule import Rule, Threshold
from alerts.rules.base import NAN, Each, Emit, Pick, State, since
from alerts.settings import AlertSettings
from alerts.signals import Signal
from sensors.columns import F64, I64


class Thresholds(State):
    def __init__(self, rows: Sequence[Rule], n: int, emit: Emit) -> None:
        self._rows = tuple(rows)
        self._specs: tuple[Threshold, ...] = tuple(_spec(r) for r in self._rows)
        self._emit = emit
        k = len(self._rows)
        self.threshold_on = np.zeros((k, n), dtype=np.bool_)
        self.threshold_since = np.full((k, n), NAN)
        self.threshold_low_since = np.full((k, n), NAN)
        self._readings = {
            s.reading: np.array([j for j, x in enumerate(self._specs) if x.reading == s.reading])
            for s in self._specs
        }
        self._figures: dict[tuple[int, str], tuple[F64, F64, F64, F64]] = {}

    def column(self, rule: Rule) -> int:
        return self._rows.index(rule)

    def on(self, rule: Rule) -> npt.NDArray[np.bool_]:
        row: npt.NDArray[np.bool_] = self.threshold_on[self.column(rule)]
        return row

    def reset(self, dev: int, reading: str) -> None:
        """Forget how long a reading has been high (a gas cell starting its warm-up)."""
        cols = self._readings.get(reading)
        if cols is not None:
            self.threshold_since[cols, dev] = NAN

    def _settings(self, st: AlertSettings, reading: str) -> tuple[F64, F64, F64, F64]:
        key = (id(st), reading)
        figures = self._figures.get(key)
        if figures is None:
            specs = [self._specs[j] for j in self._readings[reading]]
            figures = tuple(
                np.array([[float(getattr(st, getattr(s, name)))] for s in specs])
                for name in ("at", "hold", "release", "release_hold")
            )  # type: ignore[assignment]
            self._figures[key] = figures  # type: ignore[assignment]
        return figures  # type: ignore[return-value]

    def readings(
        self,
        st: AlertSettings,
        reading: str,
        d: npt.NDArray[np.int32],
        t: F64,
        now: F64,
        values: F64,
        gate: npt.NDArray[np.bool_],
        msg: I64,
        out: list[Signal],
    ) -> None:
        """One round of one reading: `now` is each device's clock (never behind its last reading),
        `gate` is False where the rules must not start timing (a warming-up cell)."""
        cols = self._readings.get(reading)
        if cols is None:
            return
        at, hold, release, release_hold = self._settings(st, reading)
        state = self.threshold_on, self.threshold_since, self.threshold_low_since
        was, old_since, old_low = (np.take(m, d, axis=1)[cols] for m in state)
        v = values[None, :]
        n = now[None, :]
        started = since((v >= at) & gate[None, :], old_since, n)
        low = since(v <= release, old_low, n)
        raised = ~was & (n - started >= hold)
        clear = was & (n - low >= release_hold)
        on = (was | raised) & ~clear if raised.any() or clear.any() else None
        for j, col in enumerate(cols.tolist()):
            self.threshold_since[col][d] = started[j]
            self.threshold_low_since[col][d] = low[j]
            if on is None:
                continue
            self.threshold_on[col][d] = on[j]
            rule = self._rows[col]
            for i in np.flatnonzero(raised[j] | clear[j]):
                up = bool(raised[j, i])
                stamp = float(started[j, i] + hold[j, 0]) if up else float(low[j, i] + release_hold[j, 0])
                v_i = float(values[i])
                gas_lel, co_ppm = (v_i, None) if reading == "gas_lel" else (None, v_i)
                ev = Reading(ts=float(t[i]), msg_id=int(msg[i]), gas_lel=gas_lel, co_ppm=co_ppm)
                out.append(self._emit(rule, int(d[i]), stamp, up, ev))

    def due(
        self,
        st: AlertSettings,
        pick: Pick,
        each: Each,
        now: float,
        last: dict[str, F64],
        out: list[Signal],
    ) -> None:
        """Holds that ran out with no new reading: raise at the moment they did, clear likewise."""
        for reading, cols in self._readings.items():
            _, hold, _, release_hold = self._settings(st, reading)
            for j, col in enumerate(cols.tolist()):
                rule = self._rows[col]
                on, started, low = (
                    m[col] for m in (self.threshold_on, self.threshold_since, self.threshold_low_since)
                )
                for dev in each(~pick(on) & (now - pick(started) >= hold[j, 0])):
                    on[dev] = True
                    stamp = float(started[dev] + hold[j, 0])
                    out.append(
                        self._emit(rule, dev, stamp, True, _due(stamp, reading, float(last[reading][dev])))
                    )
                for dev in each(pick(on) & (now - pick(low) >= release_hold[j, 0])):
                    on[dev] = False
                    stamp = float(low[dev] + release_hold[j, 0])
                    out.append(
                        self._emit(
                            rule,
                            dev,
                            stamp,
                            False,
                            _due(stamp, reading, float(last[reading][dev])),
                        )
                    )


def _due(ts: float, reading: str, value: float) -> Deadline:
    """The evidence of a hold that ran out: when, and the reading it held on."""
    return Deadline(ts=ts, gas_lel=value if reading == "gas_lel" else None,
                    co_ppm=value if reading == "co_ppm" else None)  # fmt: skip


def _spec(rule: Rule) -> Threshold:
    if not isinstance(rule.trigger, Threshold):
        raise ValueError(f"{rule.id} is not a threshold rule")
    return rule.trigger
