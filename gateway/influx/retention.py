"""How long each kind of data lives in InfluxDB, and the downsampled series that outlive the raw ones.

Retention policies (docs/storage.md): raw readings and device states 30 days; door events 30 days
(who passed a door when is personal data); alarms and notifications 3 years; 1-minute and 1-hour
downsampled readings and door activity 1 and 5 years. Continuous queries keep the downsampled series
current; they only see data that arrives within their resample window, so points written late (after an
InfluxDB outage, a gateway restart, a concentrator's backlog) are downsampled again by `Backfill`, which
runs the same statements over the late time range.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass

from gateway.config.settings import InfluxSettings
from gateway.errors import StorageConfigError, StorageError, StorageRejected
from gateway.influx.client import InfluxV1
from gateway.influx.policies import DOOR, EVENTS, HOUR, MINUTE

log = logging.getLogger(__name__)


def policies(s: InfluxSettings) -> dict[str, str]:
    """Retention policy name -> duration; the first is the database default."""
    return {
        s.retention_policy: s.raw_retention,
        DOOR: s.door_retention,
        EVENTS: s.events_retention,
        MINUTE: s.minute_retention,
        HOUR: s.hour_retention,
    }


@dataclass(frozen=True, slots=True)
class Downsample:
    name: str
    every: str  # GROUP BY time(...)
    resample_for: str  # how far back each run recomputes: late-arriving points within it are included
    select: str
    source: tuple[str, str]  # (retention policy, measurement); None rp = the raw policy
    target: tuple[str, str]

    def statement(self, database: str, raw: str, where: str = "") -> str:
        src_rp = self.source[0] or raw
        return (
            f'SELECT {self.select} INTO "{database}"."{self.target[0]}"."{self.target[1]}" '
            f'FROM "{database}"."{src_rp}"."{self.source[1]}"{where} GROUP BY time({self.every}), *'
        )

    def create(self, database: str, raw: str) -> str:
        return (
            f'CREATE CONTINUOUS QUERY "{self.name}" ON "{database}" '
            f"RESAMPLE EVERY {self.every} FOR {self.resample_for} "
            f"BEGIN {self.statement(database, raw)} END"
        )


_READING_1M = (
    'mean("co_ppm") AS "co_ppm", max("co_ppm") AS "co_ppm_max", mean("gas_lel") AS "gas_lel", '
    'max("gas_lel") AS "gas_lel_max", last("battery_pct") AS "battery_pct", mean("temp_c") AS "temp_c", '
    'count("seq") AS "readings"'
)
_READING_1H = (
    'mean("co_ppm") AS "co_ppm", max("co_ppm_max") AS "co_ppm_max", mean("gas_lel") AS "gas_lel", '
    'max("gas_lel_max") AS "gas_lel_max", last("battery_pct") AS "battery_pct", mean("temp_c") AS "temp_c", '
    'sum("readings") AS "readings"'
)
_SITE_1H = (
    'max("unprotected") AS "unprotected", max("devices_offline") AS "devices_offline", '
    'max("welfare_due") AS "welfare_due", max("active_p1") AS "active_p1", max("active_p2") AS "active_p2", '
    'max("active_p3") AS "active_p3", max("active_p4") AS "active_p4", last("households") AS "households"'
)

_R = "sensor_reading"
_E = "door_event"
_D = "door_activity"  # door events counted: no person, kept as long as readings

DOWNSAMPLES: tuple[Downsample, ...] = (
    # minutes first: the hourly ones read them
    Downsample("cq_sensor_reading_1m", "1m", "10m", _READING_1M, ("", _R), (MINUTE, _R)),
    Downsample("cq_door_activity_1m", "1m", "10m", 'count("seq") AS "events"', (DOOR, _E), (MINUTE, _D)),
    Downsample("cq_sensor_reading_1h", "1h", "2h", _READING_1H, (MINUTE, _R), (HOUR, _R)),
    Downsample("cq_door_activity_1h", "1h", "2h", 'sum("events") AS "events"', (MINUTE, _D), (HOUR, _D)),
    Downsample("cq_site_state_1h", "1h", "2h", _SITE_1H, ("", "site_state"), (HOUR, "site_state")),
)  # fmt: skip

LATE_S = 10 * 60
"""Points older than this when written missed their minute's continuous query (its RESAMPLE FOR)."""


ADMIN_ONLY = "requires admin privilege"


async def ensure_schema(influx: InfluxV1) -> None:
    """Database, retention policies and continuous queries; idempotent, and a changed duration is applied.

    That takes an InfluxDB admin. A gateway that writes as a user with ALL on its database only (as
    `guardian influx provision` makes it) checks instead that the schema is there, made by the admin."""
    s = influx.settings
    try:
        await influx.query(f'CREATE DATABASE "{s.database}"', method="POST")
    except StorageConfigError as exc:
        if ADMIN_ONLY not in str(exc):
            raise
        await _check_schema(influx)
        return
    for i, (name, duration) in enumerate(policies(s).items()):
        rp = f'"{name}" ON "{s.database}" DURATION {duration} REPLICATION 1' + (" DEFAULT" if i == 0 else "")
        try:
            await influx.query(f"CREATE RETENTION POLICY {rp}", method="POST")
        except StorageRejected as exc:
            if "already exists" not in str(exc):
                raise
            await influx.query(f"ALTER RETENTION POLICY {rp}", method="POST")
    existing = await continuous_queries(influx)
    for ds in DOWNSAMPLES:
        wanted = ds.create(s.database, s.retention_policy)
        if ds.name in existing:
            if _same(existing[ds.name], wanted):
                continue
            await influx.query(f'DROP CONTINUOUS QUERY "{ds.name}" ON "{s.database}"', method="POST")
        await influx.query(wanted, method="POST")


async def _check_schema(influx: InfluxV1) -> None:
    """As a user who may not create it: every retention policy must exist (continuous queries are visible
    to an admin only; `guardian influx provision` made them with the policies)."""
    s = influx.settings
    result = await influx.query(f'SHOW RETENTION POLICIES ON "{s.database}"')
    series = result["results"][0].get("series") or [{}]
    present = {row[0] for row in series[0].get("values") or []}
    missing = sorted(set(policies(s)) - present)
    if missing:
        raise StorageConfigError(
            f"InfluxDB user {s.username!r} is not an admin and database {s.database!r} lacks retention "
            f"policies {missing}: run `guardian influx provision` with the admin's credentials"
        )
    log.info("InfluxDB schema made by the admin: %d retention policies present", len(present))


def _same(stored: str, wanted: str) -> bool:
    """InfluxDB stores a CQ re-quoted; compare without quotes and spacing."""

    def norm(q: str) -> str:
        return "".join(q.replace('"', "").split()).lower()

    return norm(stored) == norm(wanted)


async def continuous_queries(influx: InfluxV1) -> dict[str, str]:
    result = await influx.query("SHOW CONTINUOUS QUERIES")
    for series in result["results"][0].get("series", []):
        if series.get("name") == influx.settings.database:
            return {row[0]: row[1] for row in series.get("values") or []}
    return {}


async def backfill(influx: InfluxV1, start: float, end: float, *, chunk_s: float = 86400.0) -> int:
    """Recompute every downsampled series over [start, end) (UNIX seconds), widened to whole hours.

    Runs the continuous queries' own statements, a day at a time so no single query holds a month in
    memory. Rewriting a bucket overwrites its point (same series and time). Returns statements run."""
    s = influx.settings
    lo = math.floor(start / 3600) * 3600.0
    hi = math.ceil(end / 3600) * 3600.0
    runs = 0
    for ds in DOWNSAMPLES:
        t = lo
        while t < hi:
            u = min(hi, t + chunk_s)
            where = f" WHERE time >= {int(t)}s AND time < {int(u)}s"
            await influx.query(ds.statement(s.database, s.retention_policy, where), method="POST")
            runs += 1
            t = u
    return runs


class Backfill:
    """Collects the time ranges of late writes and downsamples them again, coalesced, in the background."""

    def __init__(self, influx: InfluxV1, *, late_s: float = LATE_S, every: float = 30.0) -> None:
        self.influx = influx
        self.late_s = late_s
        self.every = every
        self._range: tuple[float, float] | None = None
        self.runs = 0

    def note(self, earliest: float, latest: float, now: float) -> None:
        """A batch covering [earliest, latest] in event time was written at `now`."""
        if now - earliest < self.late_s:
            return
        lo, hi = (earliest, latest) if self._range is None else self._range
        self._range = (min(lo, earliest), max(hi, latest))

    @property
    def pending(self) -> tuple[float, float] | None:
        return self._range

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            await self.flush()

    async def flush(self) -> None:
        if self._range is None:
            return
        lo, hi = self._range
        self._range = None
        try:
            await backfill(self.influx, lo, hi + 1)
            self.runs += 1
            log.info("downsampled late data again: %.0f s of event time", hi - lo)
        except StorageError as exc:
            log.warning("late-data downsampling failed, will retry: %s", exc)
            self.note(lo, hi, math.inf)
