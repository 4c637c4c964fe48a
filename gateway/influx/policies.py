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
    b"work_order,": EVENTS,
}
"""Line prefix -> retention policy; everything else goes to the raw (default) policy."""


_BY_INITIAL = {prefix[0]: (prefix, rp) for prefix, rp in _ROUTES.items()}
assert len(_BY_INITIAL) == len(_ROUTES), "routed measurements must start with different letters"


def policy_of(line: bytes, raw: str) -> str:
    """Called for every line the exporter writes: one dict lookup for the readings that make up most."""
    route = _BY_INITIAL.get(line[0])
    if route is not None and line.startswith(route[0]):
        return route[1]
    return raw


def measurement_policy(measurement: str, raw: str) -> str:
    return policy_of(measurement.encode() + b",", raw)
