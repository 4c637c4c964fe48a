"""What the decoder hands on: one numpy table per kind of message, and the reasoned rejections.

The tables are the boundary between `sensors` and everything after it: the rules read their columns, the
exporter writes them to InfluxDB, and a `Rejection` carries enough of its message for the quarantine. The
decoder that fills them is `sensors.decode`; keeping the shapes apart lets the rules and the exporter name
what they read without the decoder's machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from sensors.rejections import Reason

QUARANTINE_PAYLOAD_BYTES = 1024


class RawMessage(NamedTuple):
    """A message as the spool keeps it: its spool id, receive time, topic and payload.

    `recv` is integer microseconds since the epoch, unique and increasing in the spool: a float of seconds
    stepped by 1e-6 rounds two messages onto one microsecond (docs/storage.md)."""

    id: int
    recv: int
    topic: str
    payload: bytes


class Rejection(NamedTuple):
    msg_id: int
    item: int  # index inside a concentrator batch, else 0
    recv: int  # microseconds, as RawMessage.recv
    topic: str
    reason: Reason
    detail: str
    payload: bytes  # truncated to QUARANTINE_PAYLOAD_BYTES


def rejection(msg: RawMessage, reason: Reason, detail: str, item: int = 0) -> Rejection:
    """What the quarantine keeps: the reason, a detail, and the topic and payload truncated."""
    return Rejection(
        msg.id, item, msg.recv, msg.topic[:256], reason, detail, msg.payload[:QUARANTINE_PAYLOAD_BYTES]
    )


F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I8 = npt.NDArray[np.int8]
Bool = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, kw_only=True)
class Readings:
    msg_id: I64
    device: I32
    ts: F64
    seq: I64
    co_ppm: F64  # NaN where the message did not carry the value
    gas_lel: F64
    battery_pct: F64
    temp_c: F64

    def __len__(self) -> int:
        return len(self.device)


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorEvents:
    msg_id: I64
    device: I32
    ts: F64
    seq: I64
    code: I8  # index into wire.SENSOR_EVENTS

    def __len__(self) -> int:
        return len(self.device)


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorEvents:
    msg_id: I64
    device: I32
    ts: F64
    seq: I64
    code: I8  # index into wire.DOOR_EVENTS
    person: tuple[str | None, ...]
    method: I8  # index into wire.METHODS, -1 when absent
    direction: I8  # index into wire.DIRECTIONS, -1 when absent

    def __len__(self) -> int:
        return len(self.device)


@dataclass(frozen=True, slots=True, kw_only=True)
class Statuses:
    msg_id: I64
    device: I32
    ts: F64
    online: Bool

    def __len__(self) -> int:
        return len(self.device)


@dataclass(frozen=True, slots=True, kw_only=True)
class DecodedBatch:
    readings: Readings
    events: SensorEvents
    door_events: DoorEvents
    statuses: Statuses
    rejections: list[Rejection]
    skewed: int  # messages whose device time was outside the allowed skew and was replaced
    late: int = 0  # messages that kept a device time older than the skew allows (a buffered upload)

    @property
    def accepted(self) -> int:
        return len(self.readings) + len(self.events) + len(self.door_events) + len(self.statuses)

    def latest_ts(self) -> float | None:
        """The latest event time in the batch: the replay clock after it."""
        parts = [p.ts for p in (self.readings, self.events, self.door_events, self.statuses) if len(p.ts)]
        return max(float(ts.max()) for ts in parts) if parts else None

    def earliest_ts(self) -> float | None:
        """The earliest event time in the batch: how far back a late write reaches (downsampling)."""
        parts = [p.ts for p in (self.readings, self.events, self.door_events, self.statuses) if len(p.ts)]
        return min(float(ts.min()) for ts in parts) if parts else None
