"""Why an alarm stands, typed: what a rule saw when its condition changed, as a tagged union.

Evidence crosses every stage (rules → lifecycle → store, InfluxDB, the API, a snapshot), so it is declared
here once rather than being whatever keys a dict happened to get. Each kind is a frozen msgspec Struct
tagged by `kind`; unset fields are left out of JSON and msgpack, so what a person reads is the few figures
that mattered. `as_dict` is the one way out to JSON; `from_dict` reads back, including the untagged dicts
snapshots held before this module existed.
"""

from __future__ import annotations

from typing import Any

import msgspec


class _Evidence(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="kind"):
    ts: float | None = None
    msg_id: int | None = None


class Reading(_Evidence, frozen=True, tag="reading"):
    """A reading that changed a condition (CO, gas, battery), with what the rule computed from it."""

    co_ppm: float | None = None
    gas_lel: float | None = None
    dose: float | None = None
    mean_ppm: float | None = None
    cohb_pct: float | None = None
    lel_per_min: float | None = None
    battery_pct: float | None = None
    value: float | None = None
    """A value that stopped changing (HLT-5), since `since`."""
    since: float | None = None


class DeviceEvent(_Evidence, frozen=True, tag="event"):
    """An event the device reported (its own alarm, a fault, a forced door, a passage)."""

    event: str = ""
    person: str | None = None


class Deadline(_Evidence, frozen=True, tag="deadline"):
    """Time alone made the condition true or false: silence, a door held open, a hold or a re-alarm due."""

    last_seen: float | None = None
    seen: bool | None = None
    online: bool | None = None
    open_since: float | None = None
    age: str | None = None
    co_ppm: float | None = None
    gas_lel: float | None = None
    dose: float | None = None


class Household(_Evidence, frozen=True, tag="household"):
    """A home as a whole: gas or CO while it is empty, nobody passing a door for too long."""

    gas_lel: float | None = None
    dose: float | None = None
    last_passage: float | None = None
    last_cooked: float | None = None


class SystemEvidence(_Evidence, frozen=True, tag="system"):
    """The system's own alarms: which alarm nobody answered or reached, which channel refused, a flood."""

    alarm_id: str | None = None
    rule: str | None = None
    subject: str | None = None
    unanswered_min: int | None = None
    on_delay_s: float | None = None
    channel: str | None = None
    target: str | None = None
    error: str | None = None
    why: str | None = None


Evidence = Reading | DeviceEvent | Deadline | Household | SystemEvidence
KINDS: dict[str, type[_Evidence]] = {"reading": Reading, "event": DeviceEvent, "deadline": Deadline,
                                      "household": Household, "system": SystemEvidence}  # fmt: skip


def as_dict(e: Evidence) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(e)
    return out


def from_dict(d: dict[str, Any]) -> Evidence:
    """Back from JSON or msgpack; an untagged dict (a snapshot from before) by the keys it has."""
    kind = d.get("kind") or _guess(d)
    evidence: Evidence = msgspec.convert({**d, "kind": kind}, Evidence)
    return evidence


def _guess(d: dict[str, Any]) -> str:
    if {"alarm_id", "channel", "on_delay_s", "why"} & d.keys() or "rule" in d:
        return "system"
    if "event" in d:
        return "event"
    if {"last_passage", "last_cooked"} & d.keys() or ("dose" in d and "gas_lel" in d and "msg_id" not in d):
        return "household"
    if "msg_id" in d or {"battery_pct", "mean_ppm", "cohb_pct", "value"} & d.keys():
        return "reading"
    return "deadline"
