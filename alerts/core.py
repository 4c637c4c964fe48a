"""The vectorised rule core: the rule families' state in numpy columns, a batch of readings in a few passes.

Recurrences (the CO dose, the COHb step, held-for timers) must see one device's readings in order, so a
batch is processed in rounds: round k holds the k-th reading of every device in the batch, and within a
round each device appears at most once, so a fancy-indexed read-modify-write is exact. Most batches need one
round; a concentrator flushing a backlog needs a few.

The rules themselves live by family in `alerts/rules/`; this module routes each batch's columns and events to
them and runs the clock. Only condition *changes* become Python objects (`Signal`s); steady state costs
nothing but array work. Door events, sensor events and statuses are rare next to readings and are walked
one by one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from alerts.evidence import DeviceEvent
from alerts.rules import doors, gas, health
from alerts.rules.base import NAN, Emit, State
from alerts.rules.co import CoRules
from alerts.rules.counts import Counts
from alerts.rules.doors import DoorRules
from alerts.rules.events import Events
from alerts.rules.gas import GasRules
from alerts.rules.health import HealthRules
from alerts.rules.thresholds import Thresholds
from alerts.rules.welfare import WelfareRules
from alerts.settings import AlertSettings
from alerts.signals import Acknowledgement, Signal, Where
from alerts.site import SiteModel
from sensors import wire
from sensors.columns import I64, Bool, DecodedBatch, DoorEvents, Readings, SensorEvents

_EV = {name: i for i, name in enumerate(wire.SENSOR_EVENTS)}
_GRANTED = wire.DOOR_EVENTS.index("access_granted")


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


class RuleCore:
    def __init__(self, model: SiteModel) -> None:
        self.model = model
        n = len(model.index)
        st = next(iter(model.settings.values()), AlertSettings())
        emit = Emit(model)
        self.started = NAN
        self._mark = np.full(n, -1, dtype=np.int32)  # a row of the current batch
        self.thresholds = Thresholds(gas.THRESHOLD_ROWS, n, emit)
        self.sensor_events = Events("sensor_events", health.EVENT_ROWS, wire.SENSOR_EVENTS, n, emit)
        self.door_events = Events("door_events", doors.EVENT_ROWS, wire.DOOR_EVENTS, n, emit)
        self.counts = Counts(doors.COUNTED_ROWS, wire.DOOR_EVENTS, model, emit)
        self.health = HealthRules(model, self.sensor_events, emit)
        self.welfare = WelfareRules(model, self._air)
        self.co = CoRules(model, st, emit, self.welfare.cooked, self.health.stuck_values)
        self.gas = GasRules(model, self.thresholds, emit, self.welfare.cooked, self.health.stuck_values)
        self.doors = DoorRules(n, emit)
        self._families: tuple[State, ...] = (
            self.thresholds, self.sensor_events, self.door_events, self.counts,
            self.health, self.welfare, self.co, self.gas, self.doors,
        )  # fmt: skip
        self._readings = (
            ("co_ppm", self.co.readings),
            ("gas_lel", self.gas.readings),
            ("battery_pct", self.health.battery),
        )
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

    @property
    def windows(self) -> dict[tuple[str, str], deque[float]]:
        """The counted rules' recent event times, per (rule, key): saved in snapshots."""
        return self.counts.windows

    def _air(self, h: int) -> tuple[float, float]:
        sensors = self.model.household_sensors[h]
        last, dose = self.gas.gas_last, self.co.dose
        worst_gas = max((float(last[s]) for s in sensors if not np.isnan(last[s])), default=0.0)
        return worst_gas, max((float(dose[s]) for s in sensors), default=0.0)

    def recount(self, h: int) -> bool:
        return self.welfare.recount(h)

    # -- batches ----------------------------------------------------------------------------------

    def process(self, batch: DecodedBatch) -> tuple[list[Signal], list[Acknowledgement]]:
        out: list[Signal] = []
        acks: list[Acknowledgement] = []
        self.health.statuses(batch.statuses, out)
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
        self.health.heard(d, t, out)
        for name, family in self._readings:
            values = getattr(r, name)[rows]
            present = ~np.isnan(values)
            if present.all():
                family(st, d, t, values, msg, out)
            elif present.any():
                family(st, d[present], t[present], values[present], msg[present], out)
        self.welfare.away(st, d, t, out)

    # -- events -----------------------------------------------------------------------------------

    def _sensor_events(self, e: SensorEvents, out: list[Signal], acks: list[Acknowledgement]) -> None:
        if len(e.device):
            self.health.heard(e.device, e.ts, out)
        for i in range(len(e.device)):
            dev, t, code = int(e.device[i]), float(e.ts[i]), int(e.code[i])
            ev = DeviceEvent(ts=t, msg_id=int(e.msg_id[i]), event=wire.SENSOR_EVENTS[code])
            if self.sensor_events.handle(dev, t, code, ev, out):
                continue
            if code == _EV["alarm_co"]:
                self.co.alarm(dev, t, ev, out)
            elif code == _EV["alarm_gas"]:
                self.gas.alarm(dev, t, ev, out)
            elif code in (_EV["preheat_start"], _EV["preheat_end"]):
                self.gas.warming(dev, code == _EV["preheat_start"])
            elif code == _EV["low_battery"]:
                self.health.battery_low(dev, t, True, ev, out)
            elif code == _EV["hush"]:
                self.co.hush(dev, t, acks)

    def _door_events(self, e: DoorEvents, out: list[Signal]) -> None:
        if len(e.device):
            self.health.heard(e.device, e.ts, out)
        model = self.model
        for i in range(len(e.device)):
            dev, t, code = int(e.device[i]), float(e.ts[i]), int(e.code[i])
            site = model.index.site[dev]
            st = model.settings[site]
            person = e.person[i]
            ev = DeviceEvent(
                ts=t, msg_id=int(e.msg_id[i]), event=wire.DOOR_EVENTS[code], person=person or None
            )
            if code == _GRANTED:
                p = model.person(site, person) if person else None
                if p is not None:
                    self.welfare.passage(st, p, t, int(e.direction[i]), ev, out)
                continue
            self.counts.handle(st, dev, t, code, person or "", ev, out)
            self.door_events.handle(dev, t, code, ev, out)
            self.doors.event(dev, t, code, ev, out)

    # -- the clock --------------------------------------------------------------------------------

    def due(self, now: float) -> list[Signal]:
        """Conditions made true by time alone, each stamped with the time it fell due."""
        if np.isnan(self.started):
            self.started = now
        out: list[Signal] = []
        for st, devices in self._groups:
            self._due_devices(st, devices, now, out)
        self.welfare.due(now, self.started, self.health.silent, out)
        return out

    def _due_devices(
        self, st: AlertSettings, devices: npt.NDArray[np.intp] | None, now: float, out: list[Signal]
    ) -> None:
        def pick(col: Any) -> Any:
            return col if devices is None else col[devices]

        def each(mask: Bool) -> Iterator[int]:
            for i in np.flatnonzero(mask):
                yield int(i) if devices is None else int(devices[i])

        self.health.silence(st, pick, each, now, self.started, self.co.co_last, out)
        self.thresholds.due(st, pick, each, now, {"gas_lel": self.gas.gas_last}, out)
        self.co.due(st, pick, each, now, out)
        self.doors.due(st, pick, each, now, out)
        self.counts.due(st, pick, each, now, out)
        self.health.ageing(st, pick, each, now, out)

    # -- acknowledgements -------------------------------------------------------------------------

    def acknowledged(self, rule: str, where: Where, subject: str, ts: float) -> None:
        """What an acknowledgement changes in the rules: re-alarm timers and the welfare clock."""
        model = self.model
        dev = model.device(where.site, subject)
        if dev is not None:
            self.co.acknowledged(rule, dev, ts, model.settings[where.site])
        p = model.person(where.site, subject)
        if p is not None:
            self.welfare.acknowledged(rule, p, ts)

    # -- snapshots --------------------------------------------------------------------------------

    def columns(self) -> dict[str, npt.NDArray[np.generic]]:
        """Every state column by name, for snapshots and for measuring bytes per device."""
        out: dict[str, npt.NDArray[np.generic]] = {}
        for family in self._families:
            for name, value in family.columns().items():
                if name in out:
                    raise ValueError(f"two rule families declare the column {name!r}")
                out[name] = value
        return out

    def renamed(self) -> dict[str, tuple[str, int | slice]]:
        """Columns earlier versions saved under another name: (today's matrix, which of its rule rows)."""
        th, se, de = self.thresholds.column, self.sensor_events.column, self.door_events.column
        return {
            "gas1": ("threshold_on", th(gas.GAS_1)),
            "gas2": ("threshold_on", th(gas.GAS_2)),
            "gas1_since": ("threshold_since", th(gas.GAS_1)),
            "gas2_since": ("threshold_since", th(gas.GAS_2)),
            "gas_low_since": ("threshold_low_since", slice(None)),
            "fault": ("sensor_events", se(health.HLT_2)),
            "end_of_life": ("sensor_events", se(health.HLT_4)),
            "forced": ("door_events", de(doors.DR_1)),
            "tamper": ("door_events", de(doors.DR_8)),
            "denied": ("count_on", 0),
            "denied_last": ("count_last", 0),
        }

    def restore(
        self,
        columns: dict[str, npt.NDArray[np.generic]],
        started: float,
        windows: dict[tuple[str, str], deque[float]],
    ) -> None:
        current = self.columns()
        renamed = self.renamed()
        for name, value in columns.items():
            if name in renamed and name not in current:
                target, row = renamed[name]
                matrix = current[target]
                if value.shape == matrix.shape[1:]:
                    matrix[row] = value
        for family in self._families:
            family.restore({k: v for k, v in columns.items() if k in family.columns()})
        self.started = started
        legacy = {"denied": doors.DR_5.id, "passback": doors.DR_4.id, "liveness": doors.DR_6.id}
        self.counts.windows = {(legacy.get(k[0], k[0]), k[1]): v for k, v in windows.items()}
