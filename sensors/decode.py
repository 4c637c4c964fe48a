"""Raw MQTT messages in, numpy columns and reasoned rejections out.

One pass over a batch: topic lookup, typed decode, range checks, clock-skew correction. Accepted values land
in column lists that become numpy arrays once per batch; every refusal becomes a `Rejection` that carries
enough of the message to be kept in quarantine. Nothing here raises on bad input.

The tables it fills, and the rejection it makes, are declared in `sensors.columns`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np

from sensors import wire
from sensors.columns import (
    F64,
    I8,
    I32,
    I64,
    DecodedBatch,
    DoorEvents,
    RawMessage,
    Readings,
    Rejection,
    SensorEvents,
    Statuses,
    rejection,
)
from sensors.duplicate_keys import duplicate_key
from sensors.index import DeviceIndex
from sensors.rejections import Reason, classify_decode_error

_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")

SENSOR_EVENT_CODE = {name: i for i, name in enumerate(wire.SENSOR_EVENTS)}
DOOR_EVENT_CODE = {name: i for i, name in enumerate(wire.DOOR_EVENTS)}
METHOD_CODE = {name: i for i, name in enumerate(wire.METHODS)}
DIRECTION_CODE = {name: i for i, name in enumerate(wire.DIRECTIONS)}


@dataclass(frozen=True, slots=True, kw_only=True)
class DecodeLimits:
    max_payload: int = 4096
    max_batch_payload: int = 65536
    max_skew: float = 300.0  # seconds a device clock may run ahead of, or behind, receive time
    backfill: float = 86400.0  # seconds a buffered reading may be late and still keep its own time


@dataclass(slots=True)
class _Columns:
    r_msg: list[int] = field(default_factory=list)
    r_dev: list[int] = field(default_factory=list)
    r_ts: list[float] = field(default_factory=list)
    r_seq: list[int] = field(default_factory=list)
    r_co: list[float] = field(default_factory=list)
    r_gas: list[float] = field(default_factory=list)
    r_bat: list[float] = field(default_factory=list)
    r_temp: list[float] = field(default_factory=list)
    e_msg: list[int] = field(default_factory=list)
    e_dev: list[int] = field(default_factory=list)
    e_ts: list[float] = field(default_factory=list)
    e_seq: list[int] = field(default_factory=list)
    e_code: list[int] = field(default_factory=list)
    d_msg: list[int] = field(default_factory=list)
    d_dev: list[int] = field(default_factory=list)
    d_ts: list[float] = field(default_factory=list)
    d_seq: list[int] = field(default_factory=list)
    d_code: list[int] = field(default_factory=list)
    d_person: list[str | None] = field(default_factory=list)
    d_method: list[int] = field(default_factory=list)
    d_dir: list[int] = field(default_factory=list)
    s_msg: list[int] = field(default_factory=list)
    s_dev: list[int] = field(default_factory=list)
    s_ts: list[float] = field(default_factory=list)
    s_online: list[bool] = field(default_factory=list)


_NAN = float("nan")


class Decoder:
    """Reusable: holds the typed msgspec decoders and the compiled registry index."""

    def __init__(self, index: DeviceIndex, limits: DecodeLimits | None = None) -> None:
        self.index = index
        self.limits = limits or DecodeLimits()
        self._telemetry = msgspec.json.Decoder(wire.Telemetry)
        self._batch = msgspec.json.Decoder(wire.TelemetryBatch)
        self._event = msgspec.json.Decoder(wire.SensorEvent)
        self._door = msgspec.json.Decoder(wire.DoorEvent)
        self._status = msgspec.json.Decoder(wire.Status)

    def decode(self, messages: Sequence[RawMessage]) -> DecodedBatch:
        cols = _Columns()
        rejections: list[Rejection] = []
        by_topic = self.index.by_topic
        max_payload = self.limits.max_payload
        clock = _Clock(self.limits)
        for msg in messages:
            msg_id, recv_us, topic, payload = msg
            recv = recv_us / 1e6
            prefix, _, leaf = topic.rpartition("/")
            device = by_topic(prefix)
            if device is None:
                site = self.index.batch_sites.get(prefix)
                if site is not None and leaf == "telemetry":
                    self._decode_batch(msg, site, cols, rejections, clock)
                else:
                    rejections.append(self._reject(msg, *self._classify_topic(topic)))
                continue
            if len(payload) > max_payload:
                rejections.append(
                    self._reject(msg, Reason.OVERSIZE, f"{len(payload)} bytes > {max_payload} allowed")
                )
                continue
            try:
                if leaf == "telemetry":
                    if self.index.is_door(device):
                        rejections.append(self._reject(msg, Reason.DEVICE_MISMATCH, "door on a sensor topic"))
                        continue
                    t = self._telemetry.decode(payload)
                    if self._twice(msg, t, rejections):
                        continue
                    if t.device is not None and t.device != self.index.ids[device]:
                        rejections.append(
                            self._reject(msg, Reason.DEVICE_MISMATCH, f"payload names device {t.device!r}")
                        )
                        continue
                    self._add_telemetry(cols, rejections, msg, device, t, clock)
                elif leaf == "event":
                    if self.index.is_door(device):
                        d = self._door.decode(payload)
                        if self._twice(msg, d, rejections):
                            continue
                        ts = clock.event_time(d.ts, recv)
                        cols.d_msg.append(msg_id)
                        cols.d_dev.append(device)
                        cols.d_ts.append(ts)
                        cols.d_seq.append(d.seq)
                        cols.d_code.append(DOOR_EVENT_CODE[d.event])
                        cols.d_person.append(d.person)
                        cols.d_method.append(-1 if d.method is None else METHOD_CODE[d.method])
                        cols.d_dir.append(-1 if d.direction is None else DIRECTION_CODE[d.direction])
                    else:
                        e = self._event.decode(payload)
                        if self._twice(msg, e, rejections):
                            continue
                        ts = clock.event_time(e.ts, recv)
                        cols.e_msg.append(msg_id)
                        cols.e_dev.append(device)
                        cols.e_ts.append(ts)
                        cols.e_seq.append(e.seq)
                        cols.e_code.append(SENSOR_EVENT_CODE[e.event])
                elif leaf == "status":
                    s = self._status.decode(payload)
                    if self._twice(msg, s, rejections):
                        continue
                    ts = clock.event_time(s.ts, recv)
                    cols.s_msg.append(msg_id)
                    cols.s_dev.append(device)
                    cols.s_ts.append(ts)
                    cols.s_online.append(s.online)
                else:
                    rejections.append(
                        self._reject(msg, Reason.INVALID_TOPIC, f"unknown message type {leaf!r}")
                    )
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:
                rejections.append(self._reject(msg, *classify_decode_error(exc, payload)))
        return _finish(cols, rejections, clock.skewed, clock.late)

    def _decode_batch(
        self, msg: RawMessage, site: str, cols: _Columns, rejections: list[Rejection], clock: _Clock
    ) -> None:
        if len(msg.payload) > self.limits.max_batch_payload:
            detail = f"{len(msg.payload)} bytes > {self.limits.max_batch_payload} allowed for a batch"
            rejections.append(self._reject(msg, Reason.OVERSIZE, detail))
            return
        try:
            batch = self._batch.decode(msg.payload)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            rejections.append(self._reject(msg, *classify_decode_error(exc, msg.payload)))
            return
        if self._twice(msg, batch, rejections):
            return
        sensors = self.index.group(site, "sensor")
        for item, t in enumerate(batch.readings):
            device = self.index.in_group(sensors, t.device) if t.device is not None else None
            if device is None:
                reason = Reason.INVALID_FIELD if t.device is None else Reason.UNKNOWN_DEVICE
                rejections.append(self._reject(msg, reason, f"batch reading device {t.device!r}", item))
                continue
            if self.index.is_door(device):
                rejections.append(self._reject(msg, Reason.DEVICE_MISMATCH, f"{t.device!r} is a door", item))
                continue
            self._add_telemetry(cols, rejections, msg, device, t, clock, item)

    def _twice(self, msg: RawMessage, decoded: msgspec.Struct, rejections: list[Rejection]) -> bool:
        name = duplicate_key(msg.payload, decoded)
        if name is None:
            return False
        rejections.append(self._reject(msg, Reason.DUPLICATE_KEY, f"{name!r} appears twice in one object"))
        return True

    def _add_telemetry(
        self,
        cols: _Columns,
        rejections: list[Rejection],
        msg: RawMessage,
        device: int,
        t: wire.Telemetry,
        clock: _Clock,
        item: int = 0,
    ) -> None:
        """Add one sensor's reading, or its rejection."""
        if t.co_ppm is None and t.gas_lel is None:
            rejections.append(self._reject(msg, Reason.NO_MEASUREMENT, "neither co_ppm nor gas_lel", item))
            return
        ts = clock.event_time(t.ts, msg.recv / 1e6)
        cols.r_msg.append(msg.id)
        cols.r_dev.append(device)
        cols.r_ts.append(ts)
        cols.r_seq.append(t.seq)
        cols.r_co.append(_NAN if t.co_ppm is None else t.co_ppm)
        cols.r_gas.append(_NAN if t.gas_lel is None else t.gas_lel)
        cols.r_bat.append(_NAN if t.battery_pct is None else t.battery_pct)
        cols.r_temp.append(_NAN if t.temp_c is None else t.temp_c)

    def _classify_topic(self, topic: str) -> tuple[Reason, str]:
        parts = topic.split("/")
        if len(parts) != 5 or parts[0] != "guardian" or parts[2] not in ("sensor", "door"):
            return Reason.INVALID_TOPIC, "not guardian/{site}/{sensor|door}/{id}/{type}"
        if parts[4] not in ("telemetry", "event", "status"):
            return Reason.INVALID_TOPIC, f"unknown message type {parts[4]!r}"
        if not (_ID_RE.fullmatch(parts[1]) and _ID_RE.fullmatch(parts[3])):
            return Reason.INVALID_TOPIC, "site or device id outside [A-Za-z0-9_-]{1,64}"
        device = self.index.find(parts[1], parts[3])
        if device is not None:
            registered = "door" if self.index.is_door(device) else "sensor"
            return Reason.DEVICE_MISMATCH, f"{parts[3]!r} is registered as a {registered}"
        return Reason.UNKNOWN_DEVICE, f"{parts[1]}/{parts[3]} is not in the registry"

    @staticmethod
    def _reject(msg: RawMessage, reason: Reason, detail: str, item: int = 0) -> Rejection:
        return rejection(msg, reason, detail, item)


class _Clock:
    """Which time a message is filed under, and the count of each kind of clock trouble in a batch.

    A device clock ahead of receive time by more than `max_skew` is wrong (nothing arrives from the future),
    so is one further back than `backfill`: both are replaced by receive time and counted as skewed. A
    device time between `max_skew` and `backfill` in the past is a buffered upload (a detector that kept its
    readings through an outage): it keeps its own time, so the history shows when the gas was there, and
    is counted as late. The rules take late readings in order and never let one older than the device's
    last move its state back (docs/rules.md)."""

    __slots__ = ("backfill", "late", "max_skew", "skewed")

    def __init__(self, limits: DecodeLimits) -> None:
        self.max_skew = limits.max_skew
        self.backfill = max(limits.backfill, limits.max_skew)
        self.skewed = 0
        self.late = 0

    def event_time(self, ts: float | None, recv: float) -> float:
        if ts is None:
            return recv
        behind = recv - ts
        if -self.max_skew <= behind <= self.max_skew:
            return ts
        if self.max_skew < behind <= self.backfill:
            self.late += 1
            return ts
        self.skewed += 1
        return recv


def _i64(values: list[int]) -> I64:
    return np.asarray(values, dtype=np.int64)


def _f64(values: list[float]) -> F64:
    return np.asarray(values, dtype=np.float64)


def _i32(values: list[int]) -> I32:
    return np.asarray(values, dtype=np.int32)


def _i8(values: list[int]) -> I8:
    return np.asarray(values, dtype=np.int8)


def _finish(c: _Columns, rejections: list[Rejection], skewed: int, late: int) -> DecodedBatch:
    return DecodedBatch(
        readings=Readings(
            msg_id=_i64(c.r_msg),
            device=_i32(c.r_dev),
            ts=_f64(c.r_ts),
            seq=_i64(c.r_seq),
            co_ppm=_f64(c.r_co),
            gas_lel=_f64(c.r_gas),
            battery_pct=_f64(c.r_bat),
            temp_c=_f64(c.r_temp),
        ),
        events=SensorEvents(
            msg_id=_i64(c.e_msg), device=_i32(c.e_dev), ts=_f64(c.e_ts), seq=_i64(c.e_seq), code=_i8(c.e_code)
        ),
        door_events=DoorEvents(
            msg_id=_i64(c.d_msg),
            device=_i32(c.d_dev),
            ts=_f64(c.d_ts),
            seq=_i64(c.d_seq),
            code=_i8(c.d_code),
            person=tuple(c.d_person),
            method=_i8(c.d_method),
            direction=_i8(c.d_dir),
        ),
        statuses=Statuses(
            msg_id=_i64(c.s_msg),
            device=_i32(c.s_dev),
            ts=_f64(c.s_ts),
            online=np.asarray(c.s_online, dtype=np.bool_),
        ),
        rejections=rejections,
        skewed=skewed,
        late=late,
    )
