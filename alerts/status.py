"""Where the estate stands now: which households are protected, which devices need a visit, what is open.

Grafana's overview tiles and the daily report need state, not events: "is anyone in building 3 without a
working CO detector right now?" has no single event to look up. This computes it from the engine's state
columns in a few array passes (the gateway writes it once a minute, docs/storage.md). Pure: the clock is an
argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alerts.engine import Engine
from alerts.rule import Family, Severity
from alerts.rules import of_family
from sensors.compact import Groups
from sensors.index import DeviceKind

HEALTH = ("ok", "preheat", "low_battery", "stuck", "end_of_life", "fault", "silent")
"""Device health, least to most serious; a device shows its worst."""
HEALTH_ZH = ("正常", "预热中", "电量低", "读数卡住", "已到使用寿命", "故障", "失联")
"""The same states as grid officers and property staff read them, in HEALTH's order."""
HAZARD_ZH = {"CO": "一氧化碳", "gas": "燃气"}
NO_DETECTOR = ("no detector", "没有探测器")
_UNPROTECTING = frozenset({"stuck", "end_of_life", "fault", "silent"})
"""A detector in one of these states cannot be relied on to raise an alarm."""
_CO_KINDS = (int(DeviceKind.CO), int(DeviceKind.CO_GAS))
_GAS_KINDS = (int(DeviceKind.GAS), int(DeviceKind.CO_GAS))
WELFARE_RULES = of_family(Family.WELFARE)
EXPOSED_DOSE = 0.005
EXPOSED_COHB_PCT = 0.5
"""Above these (alarm dose; COHb points over the resting baseline) a detector's air is worth storing. The
COHb margin sits above ordinary background: 3 ppm settles near 0.63 %, 5 ppm near 0.94 % (standards §1)."""


def level(severity: Severity | None) -> int:
    """0 nothing open, 1 P4 … 4 P1: higher is worse, for colouring tiles."""
    return 0 if severity is None else 5 - int(severity)


@dataclass(frozen=True, slots=True)
class EstateStatus:
    now: float
    # devices (engine index order)
    health: npt.NDArray[np.int8]  # index into HEALTH
    online: npt.NDArray[np.bool_]
    last_seen_s: npt.NDArray[np.float64]  # NaN: never heard from since start
    dose: npt.NDArray[np.float64]
    cohb_pct: npt.NDArray[np.float64]
    exposed: npt.NDArray[np.bool_]  # CO in the air: dose or COHb above the resting baseline
    # households (SiteModel.household_ids order)
    protected: npt.NDArray[np.bool_]
    reason: dict[int, str]  # unprotected household -> why
    reason_zh: dict[int, str]  # the same, in Chinese
    household_level: npt.NDArray[np.int8]
    household_alarms: npt.NDArray[np.int32]
    # alarms open right now, by (site, building): counts per severity and welfare checks due
    open_alarms: dict[tuple[str, str], list[int]]  # [P1, P2, P3, P4, unacknowledged, welfare]


def estate_status(engine: Engine, now: float) -> EstateStatus:
    model, core = engine.model, engine.core
    index = model.index
    n = len(index)
    warn = model.per_device(lambda st: st.end_of_life_warning_s)
    # End of life: the device said so (flag set while the age warning is not yet due), or its rated life
    # has passed; the age warning alone (30 days ahead) still protects.
    expired = (core.health.end_of_life & (model.end_of_life > now)) | (now >= model.end_of_life + warn)
    health = np.zeros(n, dtype=np.int8)
    for name, mask in (
        ("preheat", core.gas.preheat),
        ("low_battery", core.health.battery_level > 0),
        ("stuck", core.health.stuck),
        ("end_of_life", expired),
        ("fault", core.health.fault),
        ("silent", core.health.silent),
    ):
        health[mask] = HEALTH.index(name)
    unprotecting = np.isin(health, [HEALTH.index(h) for h in _UNPROTECTING])
    last_seen = now - core.health.seen  # NaN stays NaN: never heard from
    cohb_pct = 100.0 * core.co.cohb / model.per_device(lambda st: st.cfk.h)
    exposed = (core.co.dose > EXPOSED_DOSE) | (
        cohb_pct > model.per_device(lambda st: st.cfk.baseline_pct) + EXPOSED_COHB_PCT
    )

    protected, reasons, reasons_zh = _protection(
        model.household_sensors, index.kind, index.ids, health, unprotecting
    )

    households = len(model.household_ids)
    household_level = np.zeros(households, dtype=np.int8)
    household_alarms = np.zeros(households, dtype=np.int32)
    open_alarms: dict[tuple[str, str], list[int]] = {}
    for alarm in engine.lifecycle.alarms.values():
        w = alarm.where
        counts = open_alarms.setdefault((w.site, w.building), [0, 0, 0, 0, 0, 0])
        counts[int(alarm.severity) - 1] += 1
        counts[4] += not alarm.acked
        counts[5] += alarm.rule in WELFARE_RULES
        home = model.household(w.site, w.household) if w.household else None
        if home is not None:
            household_alarms[home] += 1
            household_level[home] = max(int(household_level[home]), level(alarm.severity))
    return EstateStatus(
        now=now,
        health=health,
        online=~core.health.silent,
        last_seen_s=last_seen,
        dose=core.co.dose.copy(),
        cohb_pct=cohb_pct,
        exposed=exposed,
        protected=protected,
        reason=reasons,
        reason_zh=reasons_zh,
        household_level=household_level,
        household_alarms=household_alarms,
        open_alarms=open_alarms,
    )


def _protection(
    household_sensors: Groups,
    kind: npt.NDArray[np.uint8],
    ids: Sequence[str],
    health: npt.NDArray[np.int8],
    unprotecting: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.bool_], dict[int, str], dict[int, str]]:
    """A household is unprotected when, for a hazard its detectors were installed for, none of them can
    be relied on (or it has no detector at all). Counted per household with bincount: 100k households in
    a few milliseconds; reasons are spelled out only for the few that need one."""
    households = len(household_sensors)
    sizes = household_sensors.sizes()
    devices = household_sensors.members
    owner = household_sensors.owners()
    unprotected = sizes == 0
    hazards = []
    for hazard, kinds in (("CO", _CO_KINDS), ("gas", _GAS_KINDS)):
        covers = np.isin(kind[devices], kinds)
        covering = np.bincount(owner, weights=covers, minlength=households)
        failing = np.bincount(owner, weights=covers & unprotecting[devices], minlength=households)
        lost = (covering > 0) & (failing == covering)
        unprotected |= lost
        hazards.append((hazard, kinds, lost))
    reasons: dict[int, str] = {}
    reasons_zh: dict[int, str] = {}
    for h in np.flatnonzero(unprotected).tolist():
        if not household_sensors[h]:
            reasons[h], reasons_zh[h] = NO_DETECTOR
            continue
        why = [
            (hazard, [(ids[d], int(health[d])) for d in household_sensors[h] if int(kind[d]) in kinds])
            for hazard, kinds, lost in hazards
            if lost[h]
        ]
        reasons[h] = "; ".join(
            f"{hazard}: " + ", ".join(f"{d} {HEALTH[s]}" for d, s in devices) for hazard, devices in why
        )
        reasons_zh[h] = "；".join(
            f"{HAZARD_ZH[hazard]}：" + "，".join(f"{d} {HEALTH_ZH[s]}" for d, s in devices)
            for hazard, devices in why
        )
    return ~unprotected, reasons, reasons_zh
