"""The vectorised rule core: per-device state in numpy columns, a batch of readings in a few array passes.

Recurrences (the CO dose, the COHb step, held-for timers) must see one device's readings in order, so a
batch is processed in rounds: round k holds the k-th reading of every device in the batch, and within a
round each device appears at most once, so a fancy-indexed read-modify-write is exact. Most batches need one
round; a concentrator flushing a backlog needs a few.

Only condition *changes* become Python objects (`Signal`s); steady state costs nothing but array work.
Door events, sensor events and statuses are rare next to readings and are walked one by one.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from alerts.catalog import Audience, Severity
from alerts.settings import AlertSettings
from alerts.signals import Acknowledgement, Signal, Where
from alerts.site import SiteModel
from sensors import wire
from sensors.decode import F64, I64, Bool, DecodedBatch, DoorEvents, Readings, SensorEvents, Statuses

NAN = np.nan
INF = np.inf
BUCKETS = 6
"""The hourly CO mean is kept in 6 buckets of 10 min: 48 bytes per device instead of every reading."""

_EV = {name: i for i, name in enumerate(wire.SENSOR_EVENTS)}
_DOOR = {name: i for i, name in enumerate(wire.DOOR_EVENTS)}
_OUT = wire.DIRECTIONS.index("out")
_IN = wire.DIRECTIONS.index("in")
_HEALTH_BAD = {_EV[e] for e in ("fault", "tamper", "removed", "self_test_failed")}
_HEALTH_OK = {_EV[e] for e in ("restored", "self_test_ok")}


def occurrence_rank(device: npt.NDArray[np.int32]) -> I64:
    """For each row, how many earlier rows of the batch belong to the same device (0 for the first)."""
    n = len(device)
    order = np.argsort(device, kind="stable")
    ordered = device[order]
    starts = np.empty(n, dtype=np.bool_)
    starts[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    idx = np.arange(n)
    group_start = np.maximum.accumulate(np.where(starts, idx, 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = idx - group_start
    return rank


def _since(cond: Bool, old: F64, t: F64) -> F64:
    """When a condition became true (kept while it holds), NaN while it does not hold."""
    return np.where(cond, np.where(np.isnan(old), t, old), NAN)


class RuleCore:
    def __init__(self, model: SiteModel) -> None:
        self.model = model
        n = len(model.index)
        people = len(model.person_ids)
        households = len(model.household_ids)
        st = next(iter(model.settings.values()), AlertSettings())
        self.started = NAN
        self._mark = np.full(n, -1, dtype=np.int32)  # a row of the current batch
        # all devices
        self.seen = np.full(n, NAN)
        self.silent = np.zeros(n, dtype=np.bool_)  # HLT-1 for detectors, DR-9 for doors
        # carbon monoxide
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
        self.co_same_since = np.full(n, NAN)
        # combustible gas
        self.gas_t = np.full(n, NAN)
        self.gas_last = np.full(n, NAN)
        self.gas_prev_t = np.full(n, NAN)
        self.gas_prev = np.full(n, NAN)
        self.gas1_since = np.full(n, NAN)
        self.gas2_since = np.full(n, NAN)
        self.gas_low_since = np.full(n, NAN)
        self.gas_flat_since = np.full(n, NAN)
        self.gas_same_since = np.full(n, NAN)
        self.gas1 = np.zeros(n, dtype=np.bool_)
        self.gas2 = np.zeros(n, dtype=np.bool_)
        self.gas3 = np.zeros(n, dtype=np.bool_)
        self.preheat = np.zeros(n, dtype=np.bool_)
        # detector health
        self.fault = np.zeros(n, dtype=np.bool_)
        self.battery_low_since = np.full(n, NAN)
        self.battery_level = np.zeros(n, dtype=np.int8)  # 0 ok, 4 raised P4, 3 raised P3
        self.end_of_life = np.zeros(n, dtype=np.bool_)
        self.stuck = np.zeros(n, dtype=np.bool_)
        # doors
        self.held_since = np.full(n, NAN)
        self.held = np.zeros(n, dtype=np.bool_)
        self.forced = np.zeros(n, dtype=np.bool_)
        self.tamper = np.zeros(n, dtype=np.bool_)
        self.denied_last = np.full(n, NAN)
        self.denied = np.zeros(n, dtype=np.bool_)
        self.windows: dict[tuple[str, str], deque[float]] = {}
        # people and households
        self.last_passage = np.full(people, NAN)
        self.last_cooked = np.full(people, NAN)
        alone = np.zeros(households + 1, dtype=np.bool_)  # the last entry stands for "no household"
        alone[model.person_household[model.lives_alone]] = True
        self._alone_home = alone[model.household_of]
        """Detectors in the home of someone living alone: where cooking is a sign of life (WEL-1)."""
        self.inside = np.ones(people, dtype=np.bool_)
        self.wel1 = np.zeros(people, dtype=np.bool_)
        self.night = np.full(people, -1, dtype=np.int32)  # a date ordinal
        self.night_exits = np.zeros(people, dtype=np.int16)
        self.empty = np.zeros(households, dtype=np.bool_)
        self.wel3 = np.zeros(households, dtype=np.bool_)
        for h in {int(model.person_household[p]) for p in np.flatnonzero(model.away).tolist()}:
            self.recount(h)  # away in the registry or the store at start
        distinct: list[AlertSettings] = []
        for candidate in model.settings.values():
            if candidate not in distinct:
                distinct.append(candidate)
        if len(distinct) <= 1:
            self._groups: list[tuple[AlertSettings, npt.NDArray[np.intp] | None]] = [(st, None)]
        else:
            self._groups = [
                (model.settings[site], np.flatnonzero(model.site_code == code))
                for code, site in enumerate(model.sites)
            ]

    # -- batches ----------------------------------------------------------------------------------

    def process(self, batch: DecodedBatch) -> tuple[list[Signal], list[Acknowledgement]]:
        out: list[Signal] = []
        acks: list[Acknowledgement] = []
        self._statuses(batch.statuses, out)
        self._sensor_events(batch.events, out, acks)
        self._door_events(batch.door_events, out)
        self.readings(batch.readings, out)
        return out, acks

    def readings(self, r: Readings, out: list[Signal]) -> None:
        n = len(r.device)
        if n == 0:
            return
        dev = r.device
        positions = np.arange(n)
        self._mark[dev] = positions
        if bool((self._mark[dev] == positions).all()):
            self._by_site(dev, positions, r, out)
            return
        rank = occurrence_rank(dev)
        for k in range(int(rank.max()) + 1):
            rows = np.flatnonzero(rank == k)
            self._by_site(dev[rows], rows, r, out)

    def _by_site(
        self, dev: npt.NDArray[np.int32], rows: npt.NDArray[np.intp], r: Readings, out: list[Signal]
    ) -> None:
        if len(self._groups) == 1:
            self._round(self._groups[0][0], dev, rows, r, out)
            return
        codes = self.model.site_code[dev]
        for code in np.unique(codes):
            pick = codes == code
            self._round(self._groups[int(code)][0], dev[pick], rows[pick], r, out)

    def _round(
        self,
        st: AlertSettings,
        d: npt.NDArray[np.int32],
        rows: npt.NDArray[np.intp],
        r: Readings,
        out: list[Signal],
    ) -> None:
        t = r.ts[rows]
        msg = r.msg_id[rows]
        self._seen(d, t, out)
        for column, rule_path in (
            (r.co_ppm, self._co),
            (r.gas_lel, self._gas),
            (r.battery_pct, self._battery),
        ):
            values = column[rows]
            present = ~np.isnan(values)
            if present.all():
                rule_path(st, d, t, values, msg, out)
            elif present.any():
                rule_path(st, d[present], t[present], values[present], msg[present], out)
        self._away(st, d, t, out)

    def _seen(self, d: npt.NDArray[np.int32], t: F64, out: list[Signal]) -> None:
        self.seen[d] = np.fmax(self.seen[d], t)
        back = self.silent[d]
        if back.any():
            for i in np.flatnonzero(back):
                dev = int(d[i])
                self.silent[dev] = False
                rule = "DR-9" if self.model.is_door[dev] else "HLT-1"
                out.append(self._signal(rule, dev, float(t[i]), False, {"ts": float(t[i]), "seen": True}))

    def _co(
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
        low_since = _since(low, self.co_low_since[d], now)
        self.co_low_since[d] = low_since
        clear = was & low & (now - low_since >= st.co_clear_hold_s) & (dose < st.co_clear_dose)
        self.co1[d] = (was | alarm) & ~clear
        raised = ~was & alarm
        if raised.any() or clear.any():
            for i in np.flatnonzero(raised | clear):
                dev = int(d[i])
                ev = {
                    "ts": float(t[i]),
                    "msg_id": int(msg[i]),
                    "co_ppm": float(c[i]),
                    "dose": round(float(dose[i]), 4),
                }
                on = bool(raised[i])
                out.append(self._signal("CO-1", dev, float(t[i]), on, ev))
                if not on:
                    self.realarm_at[dev] = INF
                    if self.co2[dev]:
                        self.co2[dev] = False
                        out.append(self._signal("CO-2", dev, float(t[i]), False, ev))
        watched = self._alone_home[d]
        if watched.any():  # before this reading enters the hourly mean it is compared with
            with np.errstate(invalid="ignore", divide="ignore"):
                usual = self.mean_total[d] / self.mean_covered[d]
            lit = watched & (c >= usual + st.life_sign_co_ppm) & ~(prev_c >= usual + st.life_sign_co_ppm)
            if lit.any():
                self._cooked(d[lit], now[lit])
        self._co_mean(st, d, now, cbar, dte, msg, out)
        vulnerable = self.model.vulnerable[d]
        if vulnerable.any():
            self._cohb(
                st, d[vulnerable], now[vulnerable], cbar[vulnerable], dte[vulnerable], msg[vulnerable], out
            )
        self._stuck(st, d, now, c, prev_c, msg, is_co=True, out=out)

    def _co_mean(
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
        col = bucket % BUCKETS
        add = cbar * dte
        self.mean_sum[d, col] += add.astype(np.float32)
        self.mean_dur[d, col] += dte.astype(np.float32)
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
                ev = {"ts": float(t[i]), "msg_id": int(msg[i]), "mean_ppm": round(float(mean[i]), 2)}
                out.append(self._signal("CO-3", int(d[i]), float(t[i]), bool(raised[i]), ev))

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
                ev = {"ts": float(t[i]), "msg_id": int(msg[i]), "cohb_pct": round(float(pct[i]), 3)}
                urgent = new[i] == 2
                out.append(
                    self._signal(
                        "CO-4",
                        int(d[i]),
                        float(t[i]),
                        bool(new[i] > 0),
                        ev,
                        severity=Severity.P2 if urgent else None,
                        extra=(Audience.GRID,) if urgent else (),
                    )
                )

    def _stuck(
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
        since = _since(eligible & (v == prev), since_col[d], t)
        since = np.where(eligible & np.isnan(since), t, since)
        since_col[d] = since
        stuck = eligible & (t - since >= st.stuck_after_s)
        was = self.stuck[d]
        changed = stuck != was
        if changed.any():
            self.stuck[d] = stuck
            for i in np.flatnonzero(changed):
                ev = {
                    "ts": float(t[i]),
                    "msg_id": int(msg[i]),
                    "value": float(v[i]),
                    "since": float(since[i]),
                }
                out.append(self._signal("HLT-5", int(d[i]), float(t[i]), bool(stuck[i]), ev))

    def _gas(
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
        s1 = _since((g >= st.gas_stage1_lel) & warm, self.gas1_since[d], now)
        s2 = _since((g >= st.gas_stage2_lel) & warm, self.gas2_since[d], now)
        low = _since(g <= st.gas_release_lel, self.gas_low_since[d], now)
        self.gas1_since[d] = s1
        self.gas2_since[d] = s2
        self.gas_low_since[d] = low
        # GAS-3: rising over the last three readings, while at least a few % LEL
        with np.errstate(divide="ignore", invalid="ignore"):
            slope3 = (g - prev2_g) / (now - prev2_t) * 60.0
            slope1 = (g - prev_g) / (now - prev_t) * 60.0
        rising = warm & (g >= st.gas_rise_min_lel) & (slope3 >= st.gas_rise_lel_per_min) & (slope1 > 0)
        flat = _since(~(slope1 > 0), self.gas_flat_since[d], now)
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
                ev = {
                    "ts": float(t[i]),
                    "msg_id": int(msg[i]),
                    "gas_lel": float(g[i]),
                    "lel_per_min": round(float(slope3[i]), 3),
                }
                out.append(self._signal("GAS-3", int(d[i]), float(t[i]), bool(raised3[i]), ev))
        for rule, flag, since, hold in (
            ("GAS-1", self.gas1, s1, st.gas_stage1_hold_s),
            ("GAS-2", self.gas2, s2, st.gas_stage2_hold_s),
        ):
            was = flag[d]
            raised = ~was & (now - since >= hold)
            clear = was & (now - low >= st.gas_release_hold_s)
            if raised.any() or clear.any():
                flag[d] = (was | raised) & ~clear
                for i in np.flatnonzero(raised | clear):
                    on = bool(raised[i])
                    at = float(since[i] + hold) if on else float(low[i] + st.gas_release_hold_s)
                    ev = {"ts": float(t[i]), "msg_id": int(msg[i]), "gas_lel": float(g[i])}
                    out.append(self._signal(rule, int(d[i]), at, on, ev))
        self._stuck(st, d, now, g, prev_g, msg, is_co=False, out=out)

    def _battery(
        self, st: AlertSettings, d: npt.NDArray[np.int32], t: F64, pct: F64, _msg: I64, out: list[Signal]
    ) -> None:
        level = self.battery_level[d]
        raised = (level == 0) & (pct <= st.battery_low_pct)
        replaced = (level > 0) & (pct >= st.battery_replaced_pct)
        for i in np.flatnonzero(raised | replaced):
            dev = int(d[i])
            self._battery_low(
                dev, float(t[i]), bool(raised[i]), {"ts": float(t[i]), "battery_pct": float(pct[i])}, out
            )

    def _battery_low(self, dev: int, t: float, on: bool, ev: dict[str, Any], out: list[Signal]) -> None:
        if on == bool(self.battery_level[dev]):
            return
        self.battery_level[dev] = 4 if on else 0
        self.battery_low_since[dev] = t if on else NAN
        out.append(self._signal("HLT-3", dev, t, on, ev))

    def _away(self, st: AlertSettings, d: npt.NDArray[np.int32], t: F64, out: list[Signal]) -> None:
        """WEL-3 on readings: gas or CO building up in a household whose residents have all gone out."""
        hh = self.model.household_of[d]
        known = hh >= 0
        watch = known & (self.empty[np.where(known, hh, 0)] | self.wel3[np.where(known, hh, 0)])
        if not watch.any():
            return
        for i in np.flatnonzero(watch):
            self._check_away(st, int(hh[i]), float(t[i]), out)

    def _check_away(self, st: AlertSettings, h: int, t: float, out: list[Signal]) -> None:
        sensors = self.model.household_sensors[h]
        gas = max((float(self.gas_last[s]) for s in sensors if not np.isnan(self.gas_last[s])), default=0.0)
        dose = max((float(self.dose[s]) for s in sensors), default=0.0)
        present = gas >= st.away_gas_lel or dose >= st.away_dose
        where = self.model.household_where[h]
        ev = {"ts": t, "gas_lel": gas, "dose": round(dose, 4)}
        if present and self.empty[h]:
            urgent = gas >= st.away_gas_urgent_lel
            self.wel3[h] = True
            out.append(
                Signal(
                    ts=t,
                    rule="WEL-3",
                    subject=where.household,
                    on=True,
                    where=where,
                    evidence=ev,
                    severity=Severity.P1 if urgent else None,
                    extra=(Audience.PROPERTY, Audience.GRID) if urgent else (),
                )
            )
        elif not present and self.wel3[h]:
            self.wel3[h] = False
            out.append(
                Signal(ts=t, rule="WEL-3", subject=where.household, on=False, where=where, evidence=ev)
            )

    # -- events -----------------------------------------------------------------------------------

    def _statuses(self, s: Statuses, out: list[Signal]) -> None:
        online = s.online
        if online.any():
            self._seen(s.device[online], s.ts[online], out)
        for i in np.flatnonzero(~online):
            dev, t = int(s.device[i]), float(s.ts[i])
            if self.model.is_door[dev] and not self.silent[dev]:
                self.silent[dev] = True
                out.append(self._signal("DR-9", dev, t, True, {"ts": t, "online": False}))

    def _sensor_events(self, e: SensorEvents, out: list[Signal], acks: list[Acknowledgement]) -> None:
        if len(e.device):
            self._seen(e.device, e.ts, out)
        for i in range(len(e.device)):
            dev, t, code = int(e.device[i]), float(e.ts[i]), int(e.code[i])
            ev = {"ts": t, "msg_id": int(e.msg_id[i]), "event": wire.SENSOR_EVENTS[code]}
            if code == _EV["alarm_co"]:
                self.co1[dev] = True
                out.append(self._signal("CO-1", dev, t, True, ev))
            elif code == _EV["alarm_gas"]:
                self.gas2[dev] = True
                out.append(self._signal("GAS-2", dev, t, True, ev))
            elif code in _HEALTH_BAD:
                self.fault[dev] = True
                out.append(self._signal("HLT-2", dev, t, True, ev))
            elif code in _HEALTH_OK:
                if self.fault[dev]:
                    self.fault[dev] = False
                    out.append(self._signal("HLT-2", dev, t, False, ev))
            elif code == _EV["preheat_start"]:
                self.preheat[dev] = True
                self.gas1_since[dev] = self.gas2_since[dev] = NAN
            elif code == _EV["preheat_end"]:
                self.preheat[dev] = False
            elif code == _EV["end_of_life"]:
                self.end_of_life[dev] = True
                out.append(self._signal("HLT-4", dev, t, True, ev))
            elif code == _EV["low_battery"]:
                self._battery_low(dev, t, True, ev, out)
            elif code == _EV["hush"]:
                subject = self.model.index.ids[dev]
                site = self.model.index.site[dev]
                for rule in ("CO-1", "CO-2"):
                    acks.append(
                        Acknowledgement(ts=t, by=f"device:{subject}", rule=rule, subject=subject, site=site)
                    )

    def _door_events(self, e: DoorEvents, out: list[Signal]) -> None:
        if len(e.device):
            self._seen(e.device, e.ts, out)
        model = self.model
        for i in range(len(e.device)):
            dev, t, code = int(e.device[i]), float(e.ts[i]), int(e.code[i])
            site = model.index.site[dev]
            st = model.settings[site]
            person = e.person[i]
            ev: dict[str, Any] = {"ts": t, "msg_id": int(e.msg_id[i]), "event": wire.DOOR_EVENTS[code]}
            if person:
                ev["person"] = person
            if code == _DOOR["access_granted"]:
                p = model.person(site, person) if person else None
                if p is not None:
                    self._passage(st, p, t, int(e.direction[i]), ev, out)
            elif code == _DOOR["access_denied"]:
                self.denied_last[dev] = t
                if (
                    self._count(("denied", f"{site}/{dev}"), t, st.denied_window_s, st.denied_count)
                    and not self.denied[dev]
                ):
                    self.denied[dev] = True
                    out.append(self._signal("DR-5", dev, t, True, ev))
            elif code == _DOOR["door_forced"]:
                self.forced[dev] = True
                out.append(self._signal("DR-1", dev, t, True, ev))
            elif code == _DOOR["door_held_open"]:
                if np.isnan(self.held_since[dev]):
                    self.held_since[dev] = t
            elif code == _DOOR["door_closed"]:
                self.held_since[dev] = NAN
                for rule, flag in (("DR-1", self.forced), ("DR-2", self.held)):
                    if flag[dev]:
                        flag[dev] = False
                        out.append(self._signal(rule, dev, t, False, ev))
            elif code == _DOOR["tailgating"]:
                out.append(self._signal("DR-3", dev, t, True, ev))
            elif code == _DOOR["anti_passback"]:
                if person and self._count(
                    ("passback", f"{site}/{person}"), t, st.passback_window_s, st.passback_count
                ):
                    where = model.where(dev)
                    out.append(Signal(ts=t, rule="DR-4", subject=person, on=True, where=where, evidence=ev))
            elif code == _DOOR["liveness_failed"]:
                if self._count(("liveness", f"{site}/{dev}"), t, st.liveness_window_s, st.liveness_count):
                    out.append(self._signal("DR-6", dev, t, True, ev))
            elif code == _DOOR["duress"]:
                out.append(self._signal("DR-7", dev, t, True, ev))
            elif code == _DOOR["tamper"]:
                if not self.tamper[dev]:
                    self.tamper[dev] = True
                    out.append(self._signal("DR-8", dev, t, True, ev))
            elif code == _DOOR["tamper_restored"] and self.tamper[dev]:
                self.tamper[dev] = False
                out.append(self._signal("DR-8", dev, t, False, ev))

    def _cooked(self, d: npt.NDArray[np.int32], t: npt.NDArray[np.float64]) -> None:
        """A burner lit in a kitchen is someone at home: WEL-1 counts from it as from a door passage.
        `guardian evaluate` found elderly residents who simply stayed in on a winter day raising 1.3
        false WEL-1 (P2) per 1,000 household-days; someone who has fallen lights no burner. The signs: gas
        rising through `life_sign_lel` (an ignition puff) or CO `life_sign_co_ppm` above its hourly mean
        (the flames)."""
        model = self.model
        for dev, ts in zip(d.tolist(), t.tolist(), strict=True):
            h = int(model.household_of[dev])
            if h >= 0:
                for p in model.household_people[h]:
                    if model.lives_alone[p]:
                        self.last_cooked[p] = np.fmax(self.last_cooked[p], ts)

    def _count(self, key: tuple[str, str], t: float, window: float, threshold: int) -> bool:
        times = self.windows.setdefault(key, deque(maxlen=threshold))
        times.append(t)
        return len(times) >= threshold and t - times[0] <= window

    def _passage(
        self, st: AlertSettings, p: int, t: float, direction: int, ev: dict[str, Any], out: list[Signal]
    ) -> None:
        model = self.model
        self.last_passage[p] = np.fmax(self.last_passage[p], t)
        h = int(model.person_household[p])
        where = model.household_where[h]
        person = model.person_ids[p]
        if self.wel1[p]:
            self.wel1[p] = False
            out.append(Signal(ts=t, rule="WEL-1", subject=person, on=False, where=where, evidence=ev))
        if direction == _IN:
            self.inside[p] = True
            model.away[p] = False  # back home: "I'm away" is over
            self.empty[h] = False
            return
        if direction != _OUT:
            return
        self.inside[p] = False
        if model.lives_alone[p]:
            local = dt.datetime.fromtimestamp(t, model.zones[where.site])
            if st.night_start_hour <= local.hour < st.night_end_hour:
                night = local.date().toordinal()
                if self.night[p] != night:
                    self.night[p] = night
                    self.night_exits[p] = 0
                self.night_exits[p] += 1
                if self.night_exits[p] == st.night_exits:
                    out.append(Signal(ts=t, rule="WEL-2", subject=person, on=True, where=where, evidence=ev))
        if self.recount(h):
            self._check_away(st, h, t, out)

    def recount(self, h: int) -> bool:
        """Whether household h is empty: every resident went out through a door or said "I'm away" in the
        app (a resident leaving by car through the garage passes no face reader)."""
        people = self.model.household_people[h]
        away = self.model.away
        self.empty[h] = bool(people) and all(away[q] or not self.inside[q] for q in people)
        return bool(self.empty[h])

    # -- the clock --------------------------------------------------------------------------------

    def due(self, now: float) -> list[Signal]:
        """Conditions made true by time alone, each stamped with the time it fell due."""
        if np.isnan(self.started):
            self.started = now
        out: list[Signal] = []
        for st, devices in self._groups:
            self._due_devices(st, devices, now, out)
        self._due_people(now, out)
        return out

    def _due_devices(
        self, st: AlertSettings, devices: npt.NDArray[np.intp] | None, now: float, out: list[Signal]
    ) -> None:
        def pick(col: Any) -> Any:
            return col if devices is None else col[devices]

        def each(mask: Bool) -> Iterator[int]:
            for i in np.flatnonzero(mask):
                yield int(i) if devices is None else int(devices[i])

        model = self.model
        base = np.fmax(pick(self.seen), self.started)
        for dev in each(~pick(self.silent) & (now - base > pick(model.silent_s))):
            self.silent[dev] = True
            at = float(np.fmax(self.seen[dev], self.started) + model.silent_s[dev])
            ev = {"ts": at, "last_seen": float(self.seen[dev])}
            if model.is_door[dev]:
                out.append(self._signal("DR-9", dev, at, True, ev))
                continue
            urgent = bool(model.vulnerable[dev]) or bool(self.co_last[dev] >= st.silent_urgent_co_ppm)
            out.append(self._signal("HLT-1", dev, at, True, ev, severity=Severity.P2 if urgent else None))
        for rule, flag, since, hold in (
            ("GAS-1", self.gas1, self.gas1_since, st.gas_stage1_hold_s),
            ("GAS-2", self.gas2, self.gas2_since, st.gas_stage2_hold_s),
        ):
            for dev in each(~pick(flag) & (now - pick(since) >= hold)):
                flag[dev] = True
                at = float(since[dev] + hold)
                out.append(
                    self._signal(rule, dev, at, True, {"ts": at, "gas_lel": float(self.gas_last[dev])})
                )
            for dev in each(pick(flag) & (now - pick(self.gas_low_since) >= st.gas_release_hold_s)):
                flag[dev] = False
                at = float(self.gas_low_since[dev] + st.gas_release_hold_s)
                out.append(
                    self._signal(rule, dev, at, False, {"ts": at, "gas_lel": float(self.gas_last[dev])})
                )
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
                ev = {"ts": at, "co_ppm": float(self.co_last[dev]), "dose": round(float(self.dose[dev]), 4)}
                out.append(self._signal("CO-2", dev, at, True, ev))
        for dev in each(~pick(self.held) & (now - pick(self.held_since) >= st.door_held_s)):
            self.held[dev] = True
            at = float(self.held_since[dev] + st.door_held_s)
            out.append(
                self._signal("DR-2", dev, at, True, {"ts": at, "open_since": float(self.held_since[dev])})
            )
        for dev in each(pick(self.denied) & (now - pick(self.denied_last) >= st.denied_window_s)):
            self.denied[dev] = False
            at = float(self.denied_last[dev] + st.denied_window_s)
            out.append(self._signal("DR-5", dev, at, False, {"ts": at}))
        for dev in each(
            (pick(self.battery_level) == 4)
            & (now - pick(self.battery_low_since) >= st.battery_urgent_after_s)
        ):
            self.battery_level[dev] = 3
            at = float(self.battery_low_since[dev] + st.battery_urgent_after_s)
            out.append(self._signal("HLT-3", dev, at, True, {"ts": at}, severity=Severity.P3))
        for dev in each(~pick(self.end_of_life) & (pick(model.end_of_life) <= now)):
            self.end_of_life[dev] = True
            at = float(model.end_of_life[dev])
            out.append(
                self._signal("HLT-4", dev, at, True, {"ts": at, "age": "rated life"}, severity=Severity.P4)
            )

    def _due_people(self, now: float, out: list[Signal]) -> None:
        model = self.model
        if not len(model.person_ids):
            return
        base = np.fmax(np.fmax(self.last_passage, self.last_cooked), self.started)
        due = model.lives_alone & ~model.away & ~self.wel1 & (now - base >= model.welfare_s)
        if not due.any():
            return
        offline_units = {int(model.unit_of[d]) for d in np.flatnonzero(self.silent & model.is_door)}
        for p in np.flatnonzero(due):
            if int(model.person_unit[p]) in offline_units:
                continue  # degraded: no passages can be seen while the unit's door is offline (DR-9)
            self.wel1[p] = True
            h = int(model.person_household[p])
            at = float(base[p] + model.welfare_s[p])
            ev = {"ts": at, "last_passage": float(self.last_passage[p])}
            if not np.isnan(self.last_cooked[p]):
                ev["last_cooked"] = float(self.last_cooked[p])
            out.append(
                Signal(
                    ts=at,
                    rule="WEL-1",
                    subject=model.person_ids[p],
                    on=True,
                    where=model.household_where[h],
                    evidence=ev,
                )
            )

    # -- acknowledgements -------------------------------------------------------------------------

    def acknowledged(self, rule: str, where: Where, subject: str, ts: float) -> None:
        """What an acknowledgement changes in the rules: re-alarm timers and the welfare clock."""
        model = self.model
        settings = model.settings[where.site]
        if rule == "CO-1":
            dev = model.device(where.site, subject)
            if dev is not None:
                self.realarm_at[dev] = ts + settings.co_realarm_s
        elif rule == "WEL-1":
            p = model.person(where.site, subject)
            if p is not None:
                self.wel1[p] = False
                self.last_passage[p] = np.fmax(self.last_passage[p], ts)

    # -- helpers ----------------------------------------------------------------------------------

    def _signal(
        self,
        rule: str,
        dev: int,
        ts: float,
        on: bool,
        evidence: dict[str, Any],
        *,
        severity: Severity | None = None,
        extra: tuple[Audience, ...] = (),
    ) -> Signal:
        return Signal(
            ts=ts,
            rule=rule,
            subject=self.model.index.ids[dev],
            on=on,
            where=self.model.where(dev),
            severity=severity,
            extra=extra,
            evidence=evidence,
        )

    def columns(self) -> dict[str, npt.NDArray[np.generic]]:
        """Every state column by name, for snapshots and for measuring bytes per device."""
        return {k: v for k, v in vars(self).items() if isinstance(v, np.ndarray) and not k.startswith("_")}

    def restore(
        self,
        columns: dict[str, npt.NDArray[np.generic]],
        started: float,
        windows: dict[tuple[str, str], deque[float]],
    ) -> None:
        for name, value in columns.items():
            current = getattr(self, name, None)
            if isinstance(current, np.ndarray) and current.shape == value.shape:
                setattr(self, name, value.astype(current.dtype, copy=False))  # the unpickled array itself
        self.started = started
        self.windows = windows
