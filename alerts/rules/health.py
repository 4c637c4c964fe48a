"""Detector health (docs/standards.md §3): silence, faults, battery, end of life, a value stuck.

HLT-2 (fault, tamper, removal) is a pure event rule: its row is the whole rule. Silence (HLT-1, and DR-9 for
a door terminal), the battery's two stages (HLT-3), the rated life (HLT-4) and a stuck value (HLT-5) run on
the clock or on the device's history and stay code here. `seen` is every device's last sign of life.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from alerts.evidence import Deadline, DeviceEvent, Evidence, Reading
from alerts.rule import MT, P2, P3, P4, PM, Event, Family, R, Rule
from alerts.rules.base import NAN, Each, Emit, Pick, State, since
from alerts.rules.doors import DR_9
from alerts.rules.events import Events
from alerts.settings import AlertSettings
from alerts.signals import Signal
from alerts.site import SiteModel
from sensors.columns import F64, I64, Statuses

HLT_1 = Rule(
    id="HLT-1", family=Family.HEALTH, severity=P3, notify=(MT, PM),
    title="Detector silent", title_zh="探测器离线", job="detector_fault",
)  # fmt: skip
HLT_2 = Rule(
    id="HLT-2", family=Family.HEALTH, severity=P3, notify=(MT, R),
    title="Detector fault, tamper or removal", title_zh="探测器故障、被拆或被移除", job="detector_fault",
    trigger=Event(source="sensor", on=("fault", "tamper", "removed", "self_test_failed"),
                  off=("restored", "self_test_ok")),
)  # fmt: skip
HLT_3 = Rule(
    id="HLT-3", family=Family.HEALTH, severity=P4, notify=(R, MT),
    title="Detector battery low", title_zh="探测器电量低", job="battery",
)  # fmt: skip
HLT_4 = Rule(
    id="HLT-4", family=Family.HEALTH, severity=P3, notify=(R, MT),
    title="Detector at end of life", title_zh="探测器到达使用寿命", job="end_of_life",
    trigger=Event(source="sensor", on=("end_of_life",)),
)  # fmt: skip
HLT_5 = Rule(
    id="HLT-5", family=Family.HEALTH, severity=P4, notify=(MT,),
    title="Detector value stuck", title_zh="探测器读数卡住",
)  # fmt: skip
ROWS = (HLT_1, HLT_2, HLT_3, HLT_4, HLT_5)
EVENT_ROWS = (HLT_2, HLT_4)


class HealthRules(State):
    def __init__(self, model: SiteModel, events: Events, emit: Emit) -> None:
        n = len(model.index)
        self._model = model
        self._events = events
        self._emit = emit
        self.seen = np.full(n, NAN)
        self.silent = np.zeros(n, dtype=np.bool_)  # HLT-1 for detectors, DR-9 for doors
        self.battery_low_since = np.full(n, NAN)
        self.battery_level = np.zeros(n, dtype=np.int8)  # 0 ok, 4 raised P4, 3 raised P3
        self.stuck = np.zeros(n, dtype=np.bool_)
        self.co_same_since = np.full(n, NAN)
        self.gas_same_since = np.full(n, NAN)

    @property
    def fault(self) -> npt.NDArray[np.bool_]:
        return self._events.on(HLT_2)

    @property
    def end_of_life(self) -> npt.NDArray[np.bool_]:
        return self._events.on(HLT_4)

    def heard(self, d: npt.NDArray[np.int32], t: F64, out: list[Signal]) -> None:
        """Any message is a sign of life: a silent device that speaks again clears its silence."""
        self.seen[d] = np.fmax(self.seen[d], t)
        back = self.silent[d]
        if back.any():
            for i in np.flatnonzero(back):
                dev = int(d[i])
                self.silent[dev] = False
                rule = DR_9 if self._model.is_door[dev] else HLT_1
                out.append(self._emit(rule, dev, float(t[i]), False, Deadline(ts=float(t[i]), seen=True)))

    def statuses(self, s: Statuses, out: list[Signal]) -> None:
        online = s.online
        if online.any():
            self.heard(s.device[online], s.ts[online], out)
        for i in np.flatnonzero(~online):
            dev, t = int(s.device[i]), float(s.ts[i])
            if self._model.is_door[dev] and not self.silent[dev]:
                self.silent[dev] = True
                out.append(self._emit(DR_9, dev, t, True, DeviceEvent(ts=t, event="offline")))

    def stuck_values(
        self,
        st: AlertSettings,
        d: npt.NDArray[np.int32],
        t: F64,
        v: F64,
        prev: F64,
        msg: I64,
        *,
        is_co: bool,
        out: list[Signal],
    ) -> None:
        """HLT-5: the same non-zero value for hours (not CO below 30 ppm, which many cells report as 0)."""
        since_col = self.co_same_since if is_co else self.gas_same_since
        eligible = v >= st.stuck_co_min_ppm if is_co else v > 0
        same = since(eligible & (v == prev), since_col[d], t)
        same = np.where(eligible & np.isnan(same), t, same)
        since_col[d] = same
        stuck = eligible & (t - same >= st.stuck_after_s)
        was = self.stuck[d]
        changed = stuck != was
        if changed.any():
            self.stuck[d] = stuck
            for i in np.flatnonzero(changed):
                ev = Reading(ts=float(t[i]), msg_id=int(msg[i]), value=float(v[i]), since=float(same[i]))
                out.append(self._emit(HLT_5, int(d[i]), float(t[i]), bool(stuck[i]), ev))

    def battery(
        self, st: AlertSettings, d: npt.NDArray[np.int32], t: F64, pct: F64, _msg: I64, out: list[Signal]
    ) -> None:
        level = self.battery_level[d]
        raised = (level == 0) & (pct <= st.battery_low_pct)
        replaced = (level > 0) & (pct >= st.battery_replaced_pct)
        for i in np.flatnonzero(raised | replaced):
            ev = Reading(ts=float(t[i]), battery_pct=float(pct[i]))
            self.battery_low(int(d[i]), float(t[i]), bool(raised[i]), ev, out)

    def battery_low(self, dev: int, t: float, on: bool, ev: Evidence, out: list[Signal]) -> None:
        if on == bool(self.battery_level[dev]):
            return
        self.battery_level[dev] = 4 if on else 0
        self.battery_low_since[dev] = t if on else NAN
        out.append(self._emit(HLT_3, dev, t, on, ev))

    def silence(
        self,
        st: AlertSettings,
        pick: Pick,
        each: Each,
        now: float,
        started: float,
        co_last: F64,
        out: list[Signal],
    ) -> None:
        """HLT-1 / DR-9: nothing heard for the device's silence limit (from the start, if never heard)."""
        model = self._model
        base = np.fmax(pick(self.seen), started)
        for dev in each(~pick(self.silent) & (now - base > pick(model.silent_s))):
            self.silent[dev] = True
            at = float(np.fmax(self.seen[dev], started) + model.silent_s[dev])
            ev = Deadline(ts=at, last_seen=float(self.seen[dev]))
            if model.is_door[dev]:
                out.append(self._emit(DR_9, dev, at, True, ev))
                continue
            urgent = bool(model.vulnerable[dev]) or bool(co_last[dev] >= st.silent_urgent_co_ppm)
            out.append(self._emit(HLT_1, dev, at, True, ev, severity=P2 if urgent else None))

    def ageing(self, st: AlertSettings, pick: Pick, each: Each, now: float, out: list[Signal]) -> None:
        """HLT-3 turns P3 when the battery stays low; HLT-4 falls due on the rated life's date."""
        for dev in each(
            (pick(self.battery_level) == 4)
            & (now - pick(self.battery_low_since) >= st.battery_urgent_after_s)
        ):
            self.battery_level[dev] = 3
            at = float(self.battery_low_since[dev] + st.battery_urgent_after_s)
            out.append(self._emit(HLT_3, dev, at, True, Deadline(ts=at), severity=P3))
        eol = self.end_of_life
        for dev in each(~pick(eol) & (pick(self._model.end_of_life) <= now)):
            eol[dev] = True
            at = float(self._model.end_of_life[dev])
            out.append(self._emit(HLT_4, dev, at, True, Deadline(ts=at, age="rated life"), severity=P4))
