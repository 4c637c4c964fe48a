"""Carbon monoxide (docs/standards.md §1): the rows, and the recurrences that decide them.

CO-1 integrates a dose against the EN 50291 / UL 2034 response curve; CO-2 re-alarms after a hush if CO is
still high; CO-3 keeps the hourly mean in six 10-min buckets; CO-4 steps the Coburn-Forster-Kane equation
for a vulnerable resident. All four are recurrences: a reading's effect depends on the device's history,
so they stay code here, one vectorised pass per round.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from alerts.evidence import Deadline, Evidence, Reading
from alerts.rule import EC, FIVE_MIN, GO, P1, P2, P3, P4, PM, Family, Hazard, R, Rule
from alerts.rules.base import INF, NAN, Each, Emit, Pick, State, alone_home, since
from alerts.settings import AlertSettings
from alerts.signals import Acknowledgement, Signal
from alerts.site import SiteModel
from sensors.columns import F64, I64

CO_1 = Rule(
    id="CO-1", family=Family.CO, severity=P1, notify=(R, EC, PM), latch=True, escalate=((FIVE_MIN, (GO,)),),
    hazard=Hazard.CO,
    title="Carbon monoxide alarm", title_zh="一氧化碳报警",
    action="Open windows, leave the home, call 119.", action_zh="立即开窗，离开房间，拨打119。",
)  # fmt: skip
CO_2 = Rule(
    id="CO-2", family=Family.CO, severity=P1, notify=(R, PM, GO), latch=True,
    hazard=Hazard.CO,
    title="Carbon monoxide still high after hush", title_zh="消音后一氧化碳仍然偏高",
    action="CO is still high: leave the home now.", action_zh="一氧化碳仍然偏高：请立即离开。",
)  # fmt: skip
CO_3 = Rule(
    id="CO-3", family=Family.CO, severity=P4, notify=(R,),
    hazard=Hazard.CO,
    title="Ventilate: hourly mean CO above guidance", title_zh="请通风：一氧化碳小时均值偏高",
)  # fmt: skip
CO_4 = Rule(
    id="CO-4", family=Family.CO, severity=P3, notify=(R, EC),
    hazard=Hazard.CO,
    title="Estimated COHb high for a vulnerable resident", title_zh="易感人员碳氧血红蛋白估计偏高",
)  # fmt: skip
ROWS = (CO_1, CO_2, CO_3, CO_4)

BUCKETS = 6
"""The hourly CO mean is kept in 6 buckets of 10 min: 48 bytes per device instead of every reading."""

Cooked = Callable[[npt.NDArray[np.int32], F64], None]
Stuck = Callable[..., None]


class CoRules(State):
    def __init__(self, model: SiteModel, st: AlertSettings, emit: Emit, cooked: Cooked, stuck: Stuck) -> None:
        n = len(model.index)
        self._model = model
        self._emit = emit
        self._cooked = cooked
        self._stuck = stuck
        self._alone_home = alone_home(model)
        self.co_t = np.full(n, NAN)
        self.co_last = np.full(n, NAN)
        self.dose = np.zeros(n)
        self.fast = np.zeros(n)
        self.co_low_since = np.full(n, NAN)
        self.co1 = np.zeros(n, dtype=np.bool_)
        self.co2 = np.zeros(n, dtype=np.bool_)
        self.realarm_at = np.full(n, INF)
        self.mean_sum = np.zeros((n, BUCKETS), dtype=np.float32)
        self.mean_dur = np.zeros((n, BUCKETS), dtype=np.float32)
        self.mean_bucket = np.full(n, -1, dtype=np.int32)  # 10-min buckets since 1970: int32 to year 40,000
        self.mean_total = np.zeros(n)  # the 6 buckets' sums, kept so the common case reads no 2-D rows
        self.mean_covered = np.zeros(n)
        self.co3 = np.zeros(n, dtype=np.bool_)
        self.cohb = np.full(n, st.cfk.baseline_pct / 100 * st.cfk.h)
        self.co4 = np.zeros(n, dtype=np.int8)  # 0 none, 1 raised (P3), 2 urgent (P2)

    def readings(
        self, st: AlertSettings, d: npt.NDArray[np.int32], t: F64, c: F64, msg: I64, out: list[Signal]
    ) -> None:
        profile = st.co
        prev_t = self.co_t[d]
        older = prev_t > t  # a late reading behind this device's last: stored, but it cannot rewind the dose
        if older.any():
            keep = ~older
            d, t, c, msg, prev_t = d[keep], t[keep], c[keep], msg[keep], prev_t[keep]
            if not len(d):
                return
        prev_c = self.co_last[d]
        dt_ = t - prev_t
        first = np.isnan(dt_)
        dt_ = np.where(first, 0.0, np.maximum(dt_, 0.0))
        dte = np.minimum(dt_, st.dose_gap_s)
        interpolate = (dt_ <= st.dose_gap_s) & ~first
        cbar = np.where(interpolate, 0.5 * (prev_c + c), c)
        target = cbar / profile.c0_ppm
        dose = target + (self.dose[d] - target) * np.exp(-dte / profile.tau_s)
        fast = np.where(c >= profile.fast_ppm, self.fast[d] + dte, 0.0)
        now = np.where(first, t, np.fmax(prev_t, t))
        self.co_t[d] = now
        self.co_last[d] = c
        self.dose[d] = dose
        self.fast[d] = fast
        # CO-1: the dose, or the fast path; clears after c < 30 ppm for 5 min with the dose down
        was = self.co1[d]
        alarm = (dose >= 1.0) | (fast >= profile.fast_hold_s)
        low = c < st.co_clear_ppm
        low_since = since(low, self.co_low_since[d], now)
        self.co_low_since[d] = low_since
        clear = was & low & (now - low_since >= st.co_clear_hold_s) & (dose < st.co_clear_dose)
        self.co1[d] = (was | alarm) & ~clear
        raised = ~was & alarm
        if raised.any() or clear.any():
            for i in np.flatnonzero(raised | clear):
                dev = int(d[i])
                ev = Reading(
                    ts=float(t[i]), msg_id=int(msg[i]), co_ppm=float(c[i]), dose=round(float(dose[i]), 4)
                )
                on = bool(raised[i])
                out.append(self._emit(CO_1, dev, float(t[i]), on, ev))
                if not on:
                    self.realarm_at[dev] = INF
                    if self.co2[dev]:
                        self.co2[dev] = False
                        out.append(self._emit(CO_2, dev, float(t[i]), False, ev))
        watched = self._alone_home[d]
        if watched.any():  # before this reading enters the hourly mean it is compared with
            with np.errstate(invalid="ignore", divide="ignore"):
                usual = self.mean_total[d] / self.mean_covered[d]
            lit = watched & (c >= usual + st.life_sign_co_ppm) & ~(prev_c >= usual + st.life_sign_co_ppm)
            if lit.any():
                self._cooked(d[lit], now[lit])
        self._mean(st, d, now, cbar, dte, msg, out)
        vulnerable = self._model.vulnerable[d]
        if vulnerable.any():
            self._cohb(
                st, d[vulnerable], now[vulnerable], cbar[vulnerable], dte[vulnerable], msg[vulnerable], out
            )
        self._stuck(st, d, now, c, prev_c, msg, is_co=True, out=out)

    def _mean(
        self,
        st: AlertSettings,
        d: npt.NDArray[np.int32],
        t: F64,
        cbar: F64,
        dte: F64,
        msg: I64,
        out: list[Signal],
    ) -> None:
        """CO-3: the 60-min mean from 6 buckets of 10 min (the current one partial)."""
        width = st.co_mean_window_s / BUCKETS
        bucket = np.floor(t / width).astype(np.int64)
        last = self.mean_bucket[d]
        moved = np.flatnonzero(bucket != last)
        if len(moved):  # only rows entering a new bucket touch the 6 columns; most stay in theirs
            dm, lm, ahead = d[moved], last[moved], bucket[moved] - last[moved]
            offsets = (np.arange(BUCKETS)[None, :] - lm[:, None]) % BUCKETS
            stale = (
                ((offsets >= 1) & (offsets <= ahead[:, None]))
                | (ahead[:, None] >= BUCKETS)
                | (lm[:, None] < 0)
            )
            sums = self.mean_sum[dm]
            durs = self.mean_dur[dm]
            sums[stale] = 0
            durs[stale] = 0
            self.mean_sum[dm] = sums
            self.mean_dur[dm] = durs
            self.mean_total[dm] = sums.sum(axis=1, dtype=np.float64)
            self.mean_covered[dm] = durs.sum(axis=1, dtype=np.float64)
            self.mean_bucket[dm] = np.maximum(bucket[moved], lm)
        cell = d.astype(np.intp) * BUCKETS + bucket % BUCKETS  # flat: 1-D indexing is ~5x cheaper than 2-D
        add = cbar * dte
        sums, durs = self.mean_sum.reshape(-1), self.mean_dur.reshape(-1)  # views: the columns are contiguous
        sums[cell] += add.astype(np.float32)
        durs[cell] += dte.astype(np.float32)
        covered = self.mean_covered[d] + dte
        total = self.mean_total[d] + add
        self.mean_covered[d] = covered
        self.mean_total[d] = total
        mean = total / np.maximum(covered, 1e-9)
        was = self.co3[d]
        raised = (
            ~was & (covered >= st.co_mean_min_coverage * st.co_mean_window_s) & (mean > st.co_mean_raise_ppm)
        )
        clear = was & (mean < st.co_mean_clear_ppm)
        if raised.any() or clear.any():
            self.co3[d] = (was | raised) & ~clear
            for i in np.flatnonzero(raised | clear):
                ev = Reading(ts=float(t[i]), msg_id=int(msg[i]), mean_ppm=round(float(mean[i]), 2))
                out.append(self._emit(CO_3, int(d[i]), float(t[i]), bool(raised[i]), ev))

    def _cohb(
        self,
        st: AlertSettings,
        d: npt.NDArray[np.int32],
        t: F64,
        cbar: F64,
        dte: F64,
        msg: I64,
        out: list[Signal],
    ) -> None:
        """CO-4: Coburn-Forster-Kane, exact over each step with the haemoglobin term held (standards §1)."""
        k = st.cfk
        x = self.cohb[d]
        free = k.h - x
        pico = cbar * 1e-6 * k.pl_mmhg
        tau = k.m * free * k.vb_ml * k.b / k.pco2_mmhg
        xeq = free * k.m * (k.vco_ml_min * k.b + pico) / k.pco2_mmhg
        x = xeq + (x - xeq) * np.exp(-(dte / 60.0) / tau)
        self.cohb[d] = x
        pct = 100.0 * x / k.h
        old = self.co4[d]
        level = np.where(pct >= st.cohb_urgent_pct, 2, np.where(pct >= st.cohb_raise_pct, 1, 0)).astype(
            np.int8
        )
        new = np.where(pct < st.cohb_clear_pct, 0, np.maximum(old, level)).astype(np.int8)
        changed = new != old
        if changed.any():
            self.co4[d] = new
            for i in np.flatnonzero(changed):
                ev = Reading(ts=float(t[i]), msg_id=int(msg[i]), cohb_pct=round(float(pct[i]), 3))
                urgent = new[i] == 2
                out.append(
                    self._emit(
                        CO_4,
                        int(d[i]),
                        float(t[i]),
                        bool(new[i] > 0),
                        ev,
                        severity=P2 if urgent else None,
                        extra=(GO,) if urgent else (),
                    )
                )

    def alarm(self, dev: int, t: float, ev: Evidence, out: list[Signal]) -> None:
        """The detector's own alarm (its sounder went off): CO-1 stands whatever the dose says."""
        self.co1[dev] = True
        out.append(self._emit(CO_1, dev, t, True, ev))

    def hush(self, dev: int, t: float, acks: list[Acknowledgement]) -> None:
        """The hush button on the detector acknowledges its CO alarms (the re-alarm timer then runs)."""
        subject = self._model.index.ids[dev]
        site = self._model.index.site[dev]
        for rule in (CO_1, CO_2):
            acks.append(
                Acknowledgement(ts=t, by=f"device:{subject}", rule=rule.id, subject=subject, site=site)
            )

    def due(
        self,
        st: AlertSettings,
        pick: Pick,
        each: Each,
        now: float,
        out: list[Signal],
    ) -> None:
        """CO-2: the re-alarm a hush set, if CO is still high when it falls due."""
        for dev in each(pick(self.realarm_at) <= now):
            at = float(self.realarm_at[dev])
            self.realarm_at[dev] = INF
            if (
                self.co1[dev]
                and self.dose[dev] >= 1.0
                and self.co_last[dev] > st.co_realarm_ppm
                and not self.co2[dev]
            ):
                self.co2[dev] = True
                ev = Deadline(ts=at, co_ppm=float(self.co_last[dev]), dose=round(float(self.dose[dev]), 4))
                out.append(self._emit(CO_2, dev, at, True, ev))

    def acknowledged(self, rule: str, dev: int, ts: float, st: AlertSettings) -> None:
        if rule == CO_1.id:
            self.realarm_at[dev] = ts + st.co_realarm_s
