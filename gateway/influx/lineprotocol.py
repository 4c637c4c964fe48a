"""Decoded batches to InfluxDB line protocol (docs/storage.md).

Series keys are precomputed once per device, so a row costs one string format. Timestamps are nanoseconds.

A point's identity (docs/storage.md): InfluxDB keeps one point per series and timestamp, so a device's
message is filed at its event time truncated to the millisecond plus `seq` modulo 1,000,000 nanoseconds.
The same message written twice (a retry, a replay after a crash, a redelivery) lands on the same point;
two messages of one device share a point only if they carry the same millisecond and `seq`s a million
apart, which no device sends. A detector with a 1-second clock sending ten readings in one second, six
people through a door in one second, a buffered upload: each message keeps its own point.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np

from alerts.signals import Transition
from sensors import wire
from sensors.columns import DecodedBatch
from sensors.index import DeviceIndex, DeviceKind

# Backslashes are dropped from keys: InfluxDB's scanner takes `\x` as a pair, so one before a separator
# (`a\,b=c`) swallows the separator. Registry ids cannot contain them; anything else must not break a line.
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": "", "\r": "", "\\": ""})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": "", "\r": "", "\\": ""})
_FIELD_STRING_ESCAPES = str.maketrans({'"': r"\"", "\\": "\\\\", "\n": r"\n"})


def escape_tag(value: str) -> str:
    return value.translate(_TAG_ESCAPES)


def escape_measurement(value: str) -> str:
    return value.translate(_MEASUREMENT_ESCAPES)


def field_string(value: str) -> str:
    return '"' + value.translate(_FIELD_STRING_ESCAPES) + '"'


def series_key(measurement: str, tags: list[tuple[str, str]]) -> str:
    """Measurement and tags; empty tag values are left out, as InfluxDB requires."""
    parts = [escape_measurement(measurement)]
    escaped = ((escape_tag(k), escape_tag(v)) for k, v in sorted(tags))
    parts.extend(f"{k}={v}" for k, v in escaped if k and v)
    return ",".join(parts)


def device_tags(index: DeviceIndex, i: int) -> list[tuple[str, str]]:
    """Where a device is, as tags; with `kind` (sensor or door), for measurements holding both."""
    door = index.is_door(i)
    return [
        ("site", index.site[i]),
        ("grid", index.grid[i]),
        ("building", index.building[i]),
        ("unit", index.unit[i]),
        ("household", index.household[i]),
        ("door" if door else "device", index.ids[i]),
        ("kind", "door" if door else "sensor"),
    ]


def alarm_line(t: Transition) -> bytes:
    """One alarm transition (docs/storage.md): a re-emitted transition lands on the same point."""
    w = t.where
    key = series_key(
        "alarm",
        [
            ("site", w.site),
            ("building", w.building),
            ("household", w.household),
            ("rule", t.rule),
            ("severity", str(t.severity)),
            ("transition", t.transition),
            ("by", t.by or ""),
        ],
    )
    fields = f"alarm_id={field_string(t.alarm_id)},subject={field_string(t.subject)}"
    if t.raised_ts is not None:
        fields += f",age_s={max(0.0, t.ts - t.raised_ts)!r}"
    return f"{key} {fields} {round(t.ts * 1_000_000) * 1000}".encode()


def work_order_line(
    *,
    order_id: str,
    site: str,
    building: str,
    category: str,
    priority: str,
    action: str,
    state: str,
    ts_us: int,
    claim_s: float | None,
    resolve_s: float | None,
    rating: int | None,
    team: str = "",
    late: bool | None = None,
) -> bytes:
    """One work-order state change (docs/work-orders.md): opened, claimed, resolved… counted per category and
    team on the board; `claim_s` and `resolve_s` (hold time left out) once each clock has stopped."""
    key = series_key(
        "work_order",
        [("site", site), ("building", building), ("category", category), ("priority", priority),
         ("action", action), ("state", state), ("team", team)],
    )  # fmt: skip
    fields = f"order_id={field_string(order_id)}"
    for name, value in (("claim_s", claim_s), ("resolve_s", resolve_s)):
        if value is not None:
            fields += f",{name}={float(value)!r}"
    if late is not None:
        fields += f",late={int(late)}i"
    if rating is not None:
        fields += f",rating={int(rating)}i"
    return f"{key} {fields} {ts_us * 1000}".encode()


SEQ_SLOTS = 1_000_000  # nanoseconds in a millisecond: the sub-millisecond part of a point's time


def point_times(ts: np.ndarray, seq: np.ndarray) -> list[int]:
    """Each message's point time in ns: its event time truncated to the millisecond (after rounding to the
    microsecond, so a float's last bit never moves it) plus `seq` modulo 1,000,000 ns."""
    ms = np.round(ts * 1e6).astype(np.int64) // 1000
    values: list[int] = (ms * SEQ_SLOTS + np.mod(seq, SEQ_SLOTS)).tolist()
    return values


def _nanos(ts: np.ndarray) -> list[int]:
    values: list[int] = (np.round(ts * 1e6).astype(np.int64) * 1000).tolist()
    return values


@dataclass(frozen=True, slots=True)
class EncodedLines:
    lines: list[bytes]
    msg_ids: list[int]  # the spool message each line came from, for quarantining a refused line


class DeviceTags:
    """Each device's tags, sorted as InfluxDB sorts them, assembled when a line is written: from its unit's
    building, grid, site and unit (escaped once per unit) and its own and its household's ids, read from the
    index. Registry ids match `[A-Za-z0-9_-]` (sensors/wire.py), so a device's and a household's need no
    escaping. A tag string kept per device cost 15 MB at 100,000 devices (three full series keys, 45 MB);
    this costs 1 byte a device, and a line ~0.5 µs more."""

    def __init__(self, index: DeviceIndex) -> None:
        self.ids, self.id_at = index.ids.spans()
        self.households, self.household_at = index.households.spans()
        self.household_of = index.household_of.data  # memoryviews: a Python int per read, ~4x numpy's speed
        self.unit_of = index.unit_of.data
        self.door = array("b", (index.kind == int(DeviceKind.DOOR)).tolist())
        # per unit, the text around a device's id and household: sensors' then doors'
        self.sensor: list[tuple[str, str, str]] = []
        self.doors: list[tuple[str, str]] = []
        units = index.site.values, index.building.values, index.grid.values, index.unit.values
        for site, building, grid, name in zip(*units, strict=True):
            head, middle, tail = _tag("building", building), _tag("grid", grid), _tag("site", site)
            tail += _tag("unit", name)
            self.sensor.append((f"{head},device=", f"{middle},household=", tail))
            self.doors.append((f"{head},door=", middle + tail))

    def __getitem__(self, device: int) -> str:
        u = self.unit_of[device]
        at = self.id_at
        name = self.ids[at[device] : at[device + 1]]
        if self.door[device]:
            before, after = self.doors[u]
            return f"{before}{name}{after}"
        before, middle, after = self.sensor[u]
        h, at = self.household_of[device], self.household_at
        return f"{before}{name}{middle}{self.households[at[h] : at[h + 1]]}{after}"

    def kind(self, device: int) -> str:
        return "door" if self.door[device] else "sensor"


def _tag(key: str, value: str) -> str:
    return f",{key}={escape_tag(value)}" if value else ""


class PointEncoder:
    """Turns a DecodedBatch into lines: the measurement, the device's tags (`DeviceTags`), `event` or
    `kind` appended where the measurement has one. InfluxDB sorts tags itself, so `kind` after `unit`
    names the same series as in sorted position."""

    def __init__(self, index: DeviceIndex) -> None:
        self.index = index
        self._tags = DeviceTags(index)

    def encode(self, batch: DecodedBatch) -> EncodedLines:
        lines: list[bytes] = []
        msg_ids: list[int] = []
        r = batch.readings
        if len(r):
            tags = self._tags
            # Which fields each reading has, as bits (co 1, gas 2, battery 4, temperature 8): a detector's
            # usual reading (co, gas and battery) is one f-string; other mixes build their field list.
            has = (
                ~np.isnan(r.co_ppm)
                | (~np.isnan(r.gas_lel) << 1)
                | (~np.isnan(r.battery_pct) << 2)
                | (~np.isnan(r.temp_c) << 3)
            )
            for dev, ts, seq, co, gas, bat, temp, mid, bits in zip(
                r.device.tolist(),
                point_times(r.ts, r.seq),
                r.seq.tolist(),
                r.co_ppm.tolist(),
                r.gas_lel.tolist(),
                r.battery_pct.tolist(),
                r.temp_c.tolist(),
                r.msg_id.tolist(),
                has.astype(np.uint8).tolist(),
                strict=True,
            ):
                # present values were range-checked on decode
                if bits == 7:
                    values = f"co_ppm={co!r},gas_lel={gas!r},battery_pct={bat!r}"
                    line = f"sensor_reading{tags[dev]} seq={seq}i,{values} {ts}"
                else:
                    fields = [f"seq={seq}i"]
                    if bits & 1:
                        fields.append(f"co_ppm={co!r}")
                    if bits & 2:
                        fields.append(f"gas_lel={gas!r}")
                    if bits & 4:
                        fields.append(f"battery_pct={bat!r}")
                    if bits & 8:
                        fields.append(f"temp_c={temp!r}")
                    line = f"sensor_reading{tags[dev]} {','.join(fields)} {ts}"
                lines.append(line.encode())
                msg_ids.append(mid)
        e = batch.events
        for dev, ts, seq, code, mid in zip(
            e.device.tolist(),
            point_times(e.ts, e.seq),
            e.seq.tolist(),
            e.code.tolist(),
            e.msg_id.tolist(),
            strict=True,
        ):
            lines.append(
                f"sensor_event{self._tags[dev]},event={wire.SENSOR_EVENTS[code]} seq={seq}i {ts}".encode()
            )
            msg_ids.append(mid)
        d = batch.door_events
        for i, (dev, ts, seq, code, mid) in enumerate(
            zip(
                d.device.tolist(),
                point_times(d.ts, d.seq),
                d.seq.tolist(),
                d.code.tolist(),
                d.msg_id.tolist(),
                strict=True,
            )
        ):
            fields = [f"seq={seq}i"]
            person = d.person[i]
            if person is not None:
                fields.append(f"person={field_string(person)}")
            if d.method[i] >= 0:
                fields.append(f'method="{wire.METHODS[d.method[i]]}"')
            if d.direction[i] >= 0:
                fields.append(f'direction="{wire.DIRECTIONS[d.direction[i]]}"')
            lines.append(
                f"door_event{self._tags[dev]},event={wire.DOOR_EVENTS[code]} {','.join(fields)} {ts}".encode()
            )
            msg_ids.append(mid)
        s = batch.statuses
        for dev, ts, online, mid in zip(
            s.device.tolist(), _nanos(s.ts), s.online.tolist(), s.msg_id.tolist(), strict=True
        ):
            state = "true" if online else "false"
            key = f"device_status{self._tags[dev]},kind={self._tags.kind(dev)}"
            lines.append(f"{key} online={state} {ts}".encode())
            msg_ids.append(mid)
        return EncodedLines(lines, msg_ids)
