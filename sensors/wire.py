"""The v1 wire contract as typed msgspec Structs (docs/protocol.md).

Every number carries its physical range, so NaN and ±Inf fail validation too (a NaN compares false with
every bound). Free-text strings are limited to characters that can never break line protocol or a log line.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta

ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"
PSEUDONYM_PATTERN: Final = r"^[A-Za-z0-9_.:-]{1,64}$"

Seq = Annotated[int, Meta(ge=0, le=2**63 - 1)]
UnixTime = Annotated[float, Meta(ge=0, le=4_102_444_800)]  # up to 2100-01-01
CoPpm = Annotated[float, Meta(ge=0, le=100_000)]
GasLel = Annotated[float, Meta(ge=0, le=100)]
BatteryPct = Annotated[float, Meta(ge=0, le=100)]
TempC = Annotated[float, Meta(ge=-60, le=150)]
DeviceId = Annotated[str, Meta(pattern=ID_PATTERN)]
Pseudonym = Annotated[str, Meta(pattern=PSEUDONYM_PATTERN)]

SensorEventName = Literal[
    "alarm_co",
    "alarm_gas",
    "fault",
    "tamper",
    "removed",
    "restored",
    "self_test_ok",
    "self_test_failed",
    "preheat_start",
    "preheat_end",
    "end_of_life",
    "low_battery",
    "hush",
]
DoorEventName = Literal[
    "access_granted",
    "access_denied",
    "door_forced",
    "door_held_open",
    "door_closed",
    "tailgating",
    "anti_passback",
    "liveness_failed",
    "duress",
    "tamper",
    "tamper_restored",
]
Method = Literal["face", "card", "pin", "qr"]
Direction = Literal["in", "out"]

SENSOR_EVENTS: Final[tuple[str, ...]] = SensorEventName.__args__  # type: ignore[attr-defined]
DOOR_EVENTS: Final[tuple[str, ...]] = DoorEventName.__args__  # type: ignore[attr-defined]
METHODS: Final[tuple[str, ...]] = Method.__args__  # type: ignore[attr-defined]
DIRECTIONS: Final[tuple[str, ...]] = Direction.__args__  # type: ignore[attr-defined]


class Telemetry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    seq: Seq
    ts: UnixTime | None = None
    co_ppm: CoPpm | None = None
    gas_lel: GasLel | None = None
    battery_pct: BatteryPct | None = None
    temp_c: TempC | None = None
    device: DeviceId | None = None  # optional on a device's own topic; if present it must match


class TelemetryBatch(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    readings: Annotated[list[Telemetry], Meta(min_length=1, max_length=1000)]


class SensorEvent(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    seq: Seq
    event: SensorEventName
    ts: UnixTime | None = None


class DoorEvent(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    seq: Seq
    event: DoorEventName
    ts: UnixTime | None = None
    person: Pseudonym | None = None
    method: Method | None = None
    direction: Direction | None = None


class Status(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    online: bool
    ts: UnixTime | None = None  # a heartbeat may carry device time; a last will never does
