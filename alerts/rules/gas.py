"""Combustible gas (docs/standards.md §2): two threshold rows, and the rising-trend recurrence.

GAS-1 and GAS-2 are the GB 15322 / EN 50194 alarm stages: plain thresholds held for a time, so their rows
are the whole rule and the shared threshold matrix evaluates them. GAS-3 (concentration rising over three
readings) needs the device's previous readings and stays code. A cell warming up (`preheat`) starts no
timer: its first minutes read high on clean air.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from alerts.evidence import Evidence, Reading
from alerts.rule import EC, GO, P1, P2, P3, PM, Family, Hazard, R, Rule, Threshold
from alerts.rules.base import NAN, Emit, State, alone_home, since
from alerts.rules.co import Cooked, Stuck
from alerts.rules.thresholds import Thresholds
from alerts.settings import AlertSettings
from alerts.signals import Signal
from alerts.site import SiteModel
from sensors.columns import F64, I64

GAS_1 = Rule(
    id="GAS-1", family=Family.GAS, severity=P2, notify=(R, PM),
    hazard=Hazard.GAS,
    title="Gas leak, stage 1", title_zh="燃气泄漏（一级）",
    action="Close the gas valve, no flames or switches, open windows.",
    action_zh="关闭燃气阀，勿动明火和电器开关，开窗通风。",
    trigger=Threshold(reading="gas_lel", at="gas_stage1_lel", hold="gas_stage1_hold_s",
                      release="gas_release_lel", release_hold="gas_release_hold_s"),
)  # fmt: skip
GAS_2 = Rule(
    id="GAS-2", family=Family.GAS, severity=P1, notify=(R, EC, PM, GO), latch=True,
    hazard=Hazard.GAS,
    title="Gas leak, stage 2", title_zh="燃气泄漏（二级）",
    action="Leave now; do not touch switches; call 119 from outside.",
    action_zh="立即撤离，勿动电器开关，到室外拨打119。",
    trigger=Threshold(reading="gas_lel", at="gas_stage2_lel", hold="gas_stage2_hold_s",
                      release="gas_release_lel", release_hold="gas_release_hold_s"),
)  # fmt: skip
GAS_3 = Rule(
    id="GAS-3", family=Family.GAS, severity=P3, notify=(R,),
    hazard=Hazard.GAS,
    title="Gas concentration rising", title_zh="燃气浓度上升",
)  # fmt: skip
ROWS = (GAS_1, GAS_2, GAS_3)
THRESHOLD_ROWS = tuple(r for r in ROWS if isinstance(r.trigger, Threshold))


class GasRules(State):
    def __init__(
        self, model: SiteModel, thresholds: Thresholds, emit: Emit, cooked: Cooked, stuck: Stuck
    ) -> None:
        n = len(model.index)
        self._thresholds = thresholds
        self._emit = emit
        self._cooked = cooked
        self._stuck = stuck
        self._alone_home = alone_home(model)
        self.gas_t = np.full(n, NAN)
        self.gas_last = np.full(n, NAN)
        self.gas_prev_t = np.full(n, NAN)
        self.gas_prev = np.full(n, NAN)
        self.gas_flat_since = np.full(n, NAN)
        self.gas3 = np.zeros(n, dtype=np.bool_)
        self.preheat = np.zeros(n, dtype=np.bool_)

    def readings(
        self, st: AlertSettings, d: npt.NDArray[np.int32], t: F64, g: F64, msg: I64, out: list[Signal]
    ) -> None:
        prev_t = self.gas_t[d]
        older = prev_t > t  # as for CO: a reading behind the device's last moves no timer back
        if older.any():
            keep = ~older
            d, t, g, msg, prev_t = d[keep], t[keep], g[keep], msg[keep], prev_t[keep]
            if not len(d):
                return
        prev_g = self.gas_last[d]
        prev2_t = self.gas_prev_t[d]
        prev2_g = self.gas_prev[d]
        now = np.where(np.isnan(prev_t), t, np.fmax(prev_t, t))
        warm = ~self.preheat[d]
        # GAS-3: rising over the last three readings, while at least a few % LEL
        with np.errstate(divide="ignore", invalid="ignore"):
            slope3 = (g - prev2_g) / (now - prev2_t) * 60.0
            slope1 = (g - prev_g) / (now - prev_t) * 60.0
        rising = warm & (g >= st.gas_rise_min_lel) & (slope3 >= st.gas_rise_lel_per_min) & (slope1 > 0)
        flat = since(~(slope1 > 0), self.gas_flat_since[d], now)
        self.gas_flat_since[d] = flat
        lit = self._alone_home[d] & warm & (g >= st.life_sign_lel) & ~(prev_g >= st.life_sign_lel)
        if lit.any():
            self._cooked(d[lit], now[lit])
        self.gas_prev_t[d] = prev_t
        self.gas_prev[d] = prev_g
        self.gas_t[d] = now
        self.gas_last[d] = g
        was3 = self.gas3[d]
        raised3 = ~was3 & rising
        clear3 = was3 & (now - flat >= st.gas_rise_clear_s)
        if raised3.any() or clear3.any():
            self.gas3[d] = (was3 | raised3) & ~clear3
            for i in np.flatnonzero(raised3 | clear3):
                lel_per_min = round(float(slope3[i]), 3)
                ev = Reading(ts=float(t[i]), msg_id=int(msg[i]), gas_lel=float(g[i]), lel_per_min=lel_per_min)
                out.append(self._emit(GAS_3, int(d[i]), float(t[i]), bool(raised3[i]), ev))
        self._thresholds.readings(st, "gas_lel", d, t, now, g, warm, msg, out)
        self._stuck(st, d, now, g, prev_g, msg, is_co=False, out=out)

    def alarm(self, dev: int, t: float, ev: Evidence, out: list[Signal]) -> None:
        """The detector's own alarm output: stage 2 stands whatever the readings say."""
        self._thresholds.on(GAS_2)[dev] = True
        out.append(self._emit(GAS_2, dev, t, True, ev))

    def warming(self, dev: int, started: bool) -> None:
        self.preheat[dev] = started
        if started:
            self._thresholds.reset(dev, "gas_lel")
