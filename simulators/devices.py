"""Simulated devices as they behave on the wire: what they measure, when they report, how they fail.

A `Detector` turns the true air of its room (`air.Pulse` lists) into telemetry the way a real kitchen
detector does: a gain error of its own, reading noise, integer ppm, a slow heartbeat while nothing happens
and a reading every 10-30 s while gas or CO is present (report on change), battery drain, and the faults
that leave a household silently unprotected: stuck or drifting cells, silence, a flat battery, tamper and
removal, pre-heat, end of life. A `Door` does the same for a unit's face-recognition door: heartbeats,
the residents' passages, and whatever events a scenario scripts.

Both are stepped window by window (`window(start, end)`), keeping their sequence numbers and cadence
across windows, so a month is generated a day at a time in bounded memory and a live run a second at a
time. Output is `(ts, topic, payload)`: published as is over MQTT, or written as replay JSONL (`jsonl`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from simulators.air import Pulse, Times, concentration

Message = tuple[float, str, bytes]
Out = list[Message]

FAST = (10.0, 30.0)
"""Seconds between readings while gas or CO is present (the dose filter needs ≤ 60 s above 30 ppm)."""
ACTIVE_CO_PPM = 10.0
ACTIVE_LEL = 0.3
LOW_BATTERY_PCT = 15.0


def cadence(rng: np.random.Generator, first: float, end: float, lo: float, hi: float) -> tuple[Times, float]:
    """Times from `first` on, each lo..hi seconds after the one before, that fall before `end`; and the
    first one at or after `end`, where the next window carries on (so 1 s windows keep the cadence)."""
    n = max(int((end - first) / lo), 0) + 2
    t = first + np.concatenate(([0.0], np.cumsum(rng.uniform(lo, hi, n))))
    inside = int(np.searchsorted(t, end))
    return t[:inside], float(t[inside])


def message(ts: float, topic: str, payload: dict[str, object]) -> Message:
    return ts, topic, json.dumps(payload, separators=(",", ":")).encode()


def jsonl(m: Message) -> bytes:
    """The replay form of a message: `{"topic": ..., "payload": {...}}` (topics are plain ASCII ids)."""
    return b'{"topic":"%s","payload":%s}' % (m[1].encode(), m[2])


@dataclass(slots=True, kw_only=True)
class Detector:
    site: str
    id: str
    has_gas: bool = True
    mains: bool = True
    co: list[Pulse] = field(default_factory=list)
    lel: list[Pulse] = field(default_factory=list)
    co_base: float = 1.0
    gain: float = 1.0
    heartbeat: float = 180.0
    battery: float = 95.0
    drain_per_day: float = 0.0
    started: float = 0.0
    """When `battery` was measured: the drain counts from here."""
    stuck: tuple[float, float] | None = None
    """(from, value): the cell reports `value` for ever after."""
    drift: tuple[float, float] | None = None
    """(from, ppm per day) added to CO: an ageing cell."""
    silent_from: float = np.inf
    preheat: list[tuple[float, float, float]] = field(default_factory=list)
    """(start, end, spurious %LEL): a cell warming up reads gas that is not there."""
    events: list[tuple[float, str]] = field(default_factory=list)
    seq: int = 0
    next_report: float | None = None
    next_tick: float | None = None

    @property
    def topic(self) -> str:
        return f"guardian/{self.site}/sensor/{self.id}"

    def battery_at(self, t: Times) -> Times:
        return self.battery - self.drain_per_day * (t - self.started) / 86400.0

    def flat_at(self) -> float:
        """When a battery detector dies: the end of its messages."""
        if self.mains or self.drain_per_day <= 0:
            return np.inf
        return self.started + self.battery / self.drain_per_day * 86400.0

    def window(self, start: float, end: float, rng: np.random.Generator) -> Out:
        if self.next_report is None or self.next_tick is None:
            self.next_report = start + rng.uniform(0, self.heartbeat)
            self.next_tick = start + rng.uniform(0, FAST[0])
        hb, self.next_report = cadence(rng, self.next_report, end, 0.8 * self.heartbeat, 1.2 * self.heartbeat)
        fast, self.next_tick = cadence(rng, self.next_tick, end, *FAST)
        co_fast = concentration(self.co, fast, self.co_base)
        gas_fast = (concentration(self.lel, fast) if self.has_gas else np.zeros_like(fast)) + self._preheat(
            fast
        )
        t = np.union1d(hb, fast[(co_fast >= ACTIVE_CO_PPM) | (gas_fast >= ACTIVE_LEL)])
        stop = min(self.silent_from, self.flat_at())
        t = t[(t >= start) & (t < min(end, stop))]
        out: Out = []
        for ts, name in self._events(start, min(end, stop)):
            out.append(message(ts, f"{self.topic}/event", {"seq": 0, "ts": round(ts, 3), "event": name}))
        out += self._telemetry(t, rng)
        out.sort(key=lambda x: x[0])
        return self._numbered(out)

    def _preheat(self, t: Times) -> Times:
        """What a warming cell reads that is not in the air (after gain and noise: it is the cell's own)."""
        out = np.zeros_like(t)
        for s, e, level in self.preheat:
            out[(t >= s) & (t < e)] += level
        return out

    def _events(self, start: float, end: float) -> list[tuple[float, str]]:
        events = [(ts, name) for ts, name in self.events if start <= ts < end]
        if not self.mains and self.drain_per_day > 0:
            low = self.started + (self.battery - LOW_BATTERY_PCT) / self.drain_per_day * 86400.0
            if start <= low < end and self.battery > LOW_BATTERY_PCT:
                events.append((low, "low_battery"))
        return events

    def _telemetry(self, t: Times, rng: np.random.Generator) -> Out:
        co = concentration(self.co, t, self.co_base) * self.gain
        co = np.clip(co + rng.normal(0.0, 1.0, len(t)) * (0.02 * co + 0.4), 0.0, None)
        if self.drift is not None:
            co += np.clip(t - self.drift[0], 0.0, None) / 86400.0 * self.drift[1]
        gas = None
        if self.has_gas:
            gas = concentration(self.lel, t) * self.gain
            gas = np.clip(gas + rng.normal(0.0, 1.0, len(t)) * (0.02 * gas + 0.05), 0.0, 100.0)
            gas += self._preheat(t)
        if self.stuck is not None:
            frozen = t >= self.stuck[0]
            co = np.where(frozen, self.stuck[1], co)
            if gas is not None:
                gas = np.where(frozen, self.stuck[1] / 10.0, gas)
        co_r = np.rint(co).astype(np.int64).tolist()
        temp = np.round(17.0 + 3.0 * np.sin(t / 86400.0 * 2 * np.pi), 1).tolist()
        battery = np.round(np.clip(self.battery_at(t), 0.0, 100.0)).tolist() if not self.mains else None
        gas_r = np.round(gas, 1).tolist() if gas is not None else None
        topic = f"{self.topic}/telemetry"
        out: Out = []
        for i, ts in enumerate(t.tolist()):
            p: dict[str, object] = {"seq": 0, "ts": round(ts, 3), "co_ppm": co_r[i]}
            if gas_r is not None:
                p["gas_lel"] = gas_r[i]
            if battery is not None:
                p["battery_pct"] = battery[i]
            p["temp_c"] = temp[i]
            out.append(message(ts, topic, p))
        return out

    def _numbered(self, out: Out) -> Out:
        numbered: Out = []
        for ts, topic, raw in out:
            numbered.append((ts, topic, raw.replace(b'"seq":0', b'"seq":%d' % self.seq, 1)))
            self.seq += 1
        return numbered


@dataclass(slots=True, kw_only=True)
class Door:
    """A unit's door terminal: heartbeats every 1.5-2.5 min and the events put on it (`add`)."""

    site: str
    id: str
    heartbeat: float = 120.0
    silent_from: float = np.inf
    pending: list[tuple[float, dict[str, object]]] = field(default_factory=list)
    seq: int = 0
    next_report: float | None = None

    @property
    def topic(self) -> str:
        return f"guardian/{self.site}/door/{self.id}"

    def add(self, ts: float, event: str, **fields: object) -> None:
        self.pending.append((ts, {"event": event, **fields}))

    def passage(self, ts: float, person: str, direction: str, rng: np.random.Generator) -> None:
        """A resident through the door: face recognised, the door opens and closes behind them."""
        if rng.random() < 0.03:  # the face not recognised at the first look: a second try
            self.add(ts - rng.uniform(3, 8), "access_denied", method="face")
        self.add(ts, "access_granted", person=person, method="face", direction=direction)
        self.add(ts + rng.uniform(3, 9), "door_closed")

    def window(self, start: float, end: float, rng: np.random.Generator) -> Out:
        if self.next_report is None:
            self.next_report = start + rng.uniform(0, self.heartbeat)
        hb, self.next_report = cadence(
            rng, self.next_report, end, 0.75 * self.heartbeat, 1.25 * self.heartbeat
        )
        hb = hb[hb < self.silent_from]
        status = f"{self.topic}/status"
        out: Out = [message(ts, status, {"online": True, "ts": round(ts, 3)}) for ts in hb.tolist()]
        keep: list[tuple[float, dict[str, object]]] = []
        for ts, fields in sorted(self.pending, key=lambda x: x[0]):
            if ts >= end:
                keep.append((ts, fields))
            elif ts >= start and ts < self.silent_from:
                out.append(self._event(ts, fields))
        self.pending = keep
        out.sort(key=lambda x: x[0])
        return out

    def _event(self, ts: float, fields: dict[str, object]) -> Message:
        self.seq += 1
        return message(ts, f"{self.topic}/event", {"seq": self.seq, "ts": round(ts, 3), **fields})
