"""Welfare (docs/standards.md §6): people, not devices. Elders living alone, night exits, an empty home.

WEL-1 is a clock per person living alone, reset by a door passage or by cooking (a burner lit is someone
at home); WEL-2 counts one person's night exits; WEL-3 watches a household every resident has left while
gas or CO builds up. All three are recurrences over people and households, so they stay code here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from alerts.evidence import Evidence, Household
from alerts.rule import EC, GO, P1, P2, P3, PM, Family, Hazard, R, Rule
from alerts.rules.base import NAN, State
from alerts.settings import AlertSettings
from alerts.signals import Signal
from alerts.site import SiteModel
from sensors import wire
from sensors.columns import F64

WEL_1 = Rule(
    id="WEL-1", family=Family.WELFARE, severity=P2, notify=(EC,), momentary=True, escalate=((1800.0, (GO,)),),
    title="No door passage for a resident who lives alone", title_zh="独居老人长时间未出门",
    action="Please check on the resident.", action_zh="请联系或上门查看老人。", job="welfare_visit",
)  # fmt: skip
WEL_2 = Rule(
    id="WEL-2", family=Family.WELFARE, severity=P3, notify=(EC, GO), momentary=True,
    title="Repeated night exits", title_zh="多次夜间外出",
)  # fmt: skip
WEL_3 = Rule(
    id="WEL-3", family=Family.WELFARE, severity=P2, notify=(R, EC),
    hazard=Hazard.AIR,
    title="Everyone left while gas or CO is present", title_zh="家中无人但有燃气或一氧化碳",
    action="Nobody is home and gas or CO is present.", action_zh="家中无人但检测到燃气或一氧化碳。",
)  # fmt: skip
ROWS = (WEL_1, WEL_2, WEL_3)

_OUT = wire.DIRECTIONS.index("out")
_IN = wire.DIRECTIONS.index("in")

Air = Callable[[int], tuple[float, float]]
"""A household's worst gas reading (%LEL) and CO dose right now."""


class WelfareRules(State):
    def __init__(self, model: SiteModel, air: Air) -> None:
        people = len(model.person_ids)
        households = len(model.household_ids)
        self._model = model
        self._air = air
        alone = np.flatnonzero(model.lives_alone)
        self._alone_of = np.full(households + 1, -1, dtype=np.int64)
        """Per household, its resident living alone (-1: none); the last entry stands for "no household"."""
        homes = model.person_household[alone]
        self._alone_of[homes] = alone
        self._one_each = len(np.unique(homes)) == len(homes)
        """A registry may flag two people of one home as living alone; then each is walked in turn."""
        self.last_passage = np.full(people, NAN)
        self.last_cooked = np.full(people, NAN)
        self.inside = np.ones(people, dtype=np.bool_)
        self.wel1 = np.zeros(people, dtype=np.bool_)
        self.night = np.full(people, -1, dtype=np.int32)  # a date ordinal
        self.night_exits = np.zeros(people, dtype=np.int16)
        self.empty = np.zeros(households, dtype=np.bool_)
        self.wel3 = np.zeros(households, dtype=np.bool_)
        for h in {int(model.person_household[p]) for p in np.flatnonzero(model.away).tolist()}:
            self.recount(h)  # away in the registry or the store at start

    def cooked(self, d: npt.NDArray[np.int32], t: F64) -> None:
        """A burner lit in a kitchen is someone at home: WEL-1 counts from it as from a door passage.
        `guardian evaluate` found elderly residents who simply stayed in on a winter day raising 1.3
        false WEL-1 (P2) per 1,000 household-days; someone who has fallen lights no burner. The signs: gas
        rising through `life_sign_lel` (an ignition puff) or CO `life_sign_co_ppm` above its hourly mean
        (the flames)."""
        model = self._model
        if not self._one_each:
            for dev, ts in zip(d.tolist(), t.tolist(), strict=True):
                home = int(model.household_of[dev])
                for q in model.household_people[home] if home >= 0 else ():
                    if model.lives_alone[q]:
                        self.last_cooked[q] = np.fmax(self.last_cooked[q], ts)
            return
        h = model.household_of[d]
        p = self._alone_of[np.where(h >= 0, h, len(self._alone_of) - 1)]
        mine = p >= 0
        if mine.any():
            np.fmax.at(self.last_cooked, p[mine], t[mine])

    def passage(
        self, st: AlertSettings, p: int, t: float, direction: int, ev: Evidence, out: list[Signal]
    ) -> None:
        model = self._model
        self.last_passage[p] = np.fmax(self.last_passage[p], t)
        h = int(model.person_household[p])
        where = model.household_where[h]
        person = model.person_ids[p]
        if self.wel1[p]:
            self.wel1[p] = False
            out.append(Signal(ts=t, rule=WEL_1.id, subject=person, on=False, where=where, evidence=ev))
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
                    out.append(Signal(ts=t, rule=WEL_2.id, subject=person, on=True, where=where, evidence=ev))
        if self.recount(h):
            self.check_away(st, h, t, out)

    def recount(self, h: int) -> bool:
        """Whether household h is empty: every resident went out through a door or said "I'm away" in the
        app (a resident leaving by car through the garage passes no face reader)."""
        people = self._model.household_people[h]
        away = self._model.away
        self.empty[h] = bool(people) and all(away[q] or not self.inside[q] for q in people)
        return bool(self.empty[h])

    def away(self, st: AlertSettings, d: npt.NDArray[np.int32], t: F64, out: list[Signal]) -> None:
        """WEL-3 on readings: gas or CO building up in a household whose residents have all gone out."""
        hh = self._model.household_of[d]
        known = hh >= 0
        watch = known & (self.empty[np.where(known, hh, 0)] | self.wel3[np.where(known, hh, 0)])
        if not watch.any():
            return
        for i in np.flatnonzero(watch):
            self.check_away(st, int(hh[i]), float(t[i]), out)

    def check_away(self, st: AlertSettings, h: int, t: float, out: list[Signal]) -> None:
        gas, dose = self._air(h)
        present = gas >= st.away_gas_lel or dose >= st.away_dose
        where = self._model.household_where[h]
        ev = Household(ts=t, gas_lel=gas, dose=round(dose, 4))
        if present and self.empty[h]:
            urgent = gas >= st.away_gas_urgent_lel
            self.wel3[h] = True
            out.append(
                Signal(
                    ts=t,
                    rule=WEL_3.id,
                    subject=where.household,
                    on=True,
                    where=where,
                    evidence=ev,
                    severity=P1 if urgent else None,
                    extra=(PM, GO) if urgent else (),
                )
            )
        elif not present and self.wel3[h]:
            self.wel3[h] = False
            out.append(
                Signal(ts=t, rule=WEL_3.id, subject=where.household, on=False, where=where, evidence=ev)
            )

    def due(self, now: float, started: float, door_silent: npt.NDArray[np.bool_], out: list[Signal]) -> None:
        """WEL-1 falls due for a person living alone not seen passing a door (or cooking) for too long."""
        model = self._model
        if not len(model.person_ids):
            return
        base = np.fmax(np.fmax(self.last_passage, self.last_cooked), started)
        due = model.lives_alone & ~model.away & ~self.wel1 & (now - base >= model.welfare_s)
        if not due.any():
            return
        offline_units = {int(model.unit_of[d]) for d in np.flatnonzero(door_silent & model.is_door)}
        for p in np.flatnonzero(due):
            if int(model.person_unit[p]) in offline_units:
                continue  # degraded: no passages can be seen while the unit's door is offline (DR-9)
            self.wel1[p] = True
            h = int(model.person_household[p])
            at = float(base[p] + model.welfare_s[p])
            cooked = None if np.isnan(self.last_cooked[p]) else float(self.last_cooked[p])
            ev = Household(ts=at, last_passage=float(self.last_passage[p]), last_cooked=cooked)
            out.append(
                Signal(
                    ts=at,
                    rule=WEL_1.id,
                    subject=model.person_ids[p],
                    on=True,
                    where=model.household_where[h],
                    evidence=ev,
                )
            )

    def acknowledged(self, rule: str, p: int, ts: float) -> None:
        """Answering a welfare check is a sign of life: the clock starts again from the answer."""
        if rule == WEL_1.id:
            self.wel1[p] = False
            self.last_passage[p] = np.fmax(self.last_passage[p], ts)
