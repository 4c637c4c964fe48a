"""Which retention policy each measurement is written to (docs/storage.md): one place for the writer,
the counters and the dashboards."""

from __future__ import annotations

DOOR = "door"
EVENTS = "events"
MINUTE = "m1"
HOUR = "h1"

_ROUTES = {
    b"door_event,": DOOR,
    b"alarm,": EVENTS,
    b"notification,": EVENTS,
}
"""Line prefix -> retention policy; everything else goes to the raw (default) policy."""


def policy_of(line: bytes, raw: str) -> str:
    for prefix, rp in _ROUTES.items():
        if line.startswith(prefix):
            return rp
    return raw


def measurement_policy(measurement: str, raw: str) -> str:
    return policy_of(measurement.encode() + b",", raw)
