"""The estate's state as InfluxDB points, once a minute (docs/storage.md: `*_state` measurements).

Four levels, so each dashboard reads one small measurement instead of aggregating thousands of series:
`device_state` (health, last seen, dose, COHb), `household_state` (protected or not and why),
`building_state` (the tile colour: worst open alarm; counts) and `site_state` (the district overview).
"""

from __future__ import annotations

import numpy as np

from alerts.rule import Severity
from alerts.site import SiteModel
from alerts.status import HEALTH, EstateStatus, level
from gateway.influx.lineprotocol import device_tags, field_string, series_key


class StatusEncoder:
    def __init__(self, model: SiteModel) -> None:
        self.model = model
        ix = model.index
        # every unit's building; per device and per household by their unit when a minute's lines are made
        buildings: dict[tuple[str, str], int] = {}
        grid_of: dict[tuple[str, str], str] = {}
        unit_building: list[int] = []
        for site, building, grid in zip(ix.site.values, ix.building.values, ix.grid.values, strict=True):
            unit_building.append(buildings.setdefault((site, building), len(buildings)))
            grid_of[(site, building)] = grid
        self.buildings = list(buildings)
        self.sites = sorted({s for s, _ in self.buildings})
        self._unit_building = np.asarray(unit_building, dtype=np.int32)
        self._building_site = np.array([self.sites.index(s) for s, _ in self.buildings])
        self._grid_of = grid_of
        self._device_keys: dict[int, str] = {}
        self._household_keys: dict[int, str] = {}
        self._written_devices = np.zeros(len(ix), dtype=np.bool_)
        self._written_households = np.zeros(len(model.household_where), dtype=np.bool_)
        self._household_devices = np.asarray(model.household_of)
        self._building_keys = [
            series_key("building_state", [("site", s), ("grid", grid_of.get((s, b), "")), ("building", b)])
            for s, b in self.buildings
        ]
        self._site_keys = [series_key("site_state", [("site", s)]) for s in self.sites]

    def _device_key(self, i: int) -> str:
        key = self._device_keys.get(i)
        if key is None:
            tags = device_tags(self.model.index, i)
            key = self._device_keys[i] = series_key("device_state", tags)
        return key

    def _household_key(self, h: int) -> str:
        key = self._household_keys.get(h)
        if key is None:
            w = self.model.household_where[h]
            tags = [
                ("site", w.site),
                ("grid", self._grid_of.get((w.site, w.building), "")),
                ("building", w.building),
                ("unit", w.unit),
                ("household", w.household),
            ]
            key = self._household_keys[h] = series_key("household_state", tags)
        return key

    @property
    def written(self) -> tuple[np.ndarray, np.ndarray]:
        """Which devices and households the last minute's lines included (a recovery is written once more)."""
        return self._written_devices, self._written_households

    def adopt(self, written: tuple[np.ndarray, np.ndarray]) -> None:
        """Take `written` from an encoder that ran elsewhere on this one's copy (a forked child)."""
        self._written_devices, self._written_households = written

    def encode(self, st: EstateStatus) -> list[bytes]:
        """Buildings and sites every time; households and devices only while something is wrong with them
        (or CO is in their air), plus one point when they recover, so `last()` ends on the recovery.
        At 100,000 households everything-every-minute would be 200k points and most of a second of CPU."""
        ts = round(st.now * 1_000_000) * 1000  # ns, as every line the gateway writes
        lines: list[bytes] = []
        is_door = self.model.is_door
        flagged = ~st.protected | (st.household_level > 0)
        watched = (st.health > 0) | st.exposed
        in_home = self._household_devices >= 0
        watched[in_home] |= flagged[self._household_devices[in_home]]
        for i in np.flatnonzero(watched | self._written_devices).tolist():
            health = int(st.health[i])
            fields = [
                f"health={field_string(HEALTH[health])}",
                f"health_level={health}i",
                f"online={'true' if st.online[i] else 'false'}",
            ]
            seen = float(st.last_seen_s[i])
            if seen == seen:
                fields.append(f"last_seen_s={seen!r}")
            if not is_door[i]:
                fields.append(f"dose={float(st.dose[i])!r}")
                fields.append(f"cohb_pct={float(st.cohb_pct[i])!r}")
            lines.append(f"{self._device_key(i)} {','.join(fields)} {ts}".encode())
        for h in np.flatnonzero(flagged | self._written_households).tolist():
            fields = [
                f"unprotected={0 if st.protected[h] else 1}i",
                f"level={int(st.household_level[h])}i",
                f"alarms={int(st.household_alarms[h])}i",
            ]
            if h in st.reason:
                fields.append(f"reason={field_string(st.reason[h])}")
            lines.append(f"{self._household_key(h)} {','.join(fields)} {ts}".encode())
        self._written_devices = watched
        self._written_households = flagged

        nb = len(self.buildings)
        household_building = self._unit_building[self.model.household_where.unit_of]
        device_building = self._unit_building[self.model.unit_of]
        households = np.bincount(household_building, minlength=nb)
        unprotected = np.bincount(household_building, weights=~st.protected, minlength=nb)
        detectors = ~is_door
        devices = np.bincount(device_building, minlength=nb)
        offline = np.bincount(device_building, weights=~st.online, minlength=nb)
        needs_visit = np.bincount(device_building, weights=detectors & (st.health > 0), minlength=nb)
        worst = np.zeros(nb, dtype=np.int64)
        np.maximum.at(worst, household_building, st.household_level)
        rows: list[list[int]] = []
        for b, (site, building) in enumerate(self.buildings):
            p1, p2, p3, p4, unacked, welfare = st.open_alarms.get((site, building), [0] * 6)
            open_level = next((level(sev) for sev, n in zip(Severity, (p1, p2, p3, p4), strict=True) if n), 0)
            row = [
                int(households[b]),
                int(unprotected[b]),
                int(devices[b]),
                int(offline[b]),
                int(needs_visit[b]),
                max(int(worst[b]), open_level),
                p1,
                p2,
                p3,
                p4,
                unacked,
                welfare,
            ]
            rows.append(row)
            lines.append(f"{self._building_keys[b]} {_fields(row)} {ts}".encode())
        table = np.array(rows, dtype=np.int64).reshape(nb, len(_COUNTS))
        for s, key in enumerate(self._site_keys):
            mine = table[self._building_site == s]
            total = mine.sum(axis=0)
            total[5] = mine[:, 5].max(initial=0)  # the level is the worst, not a sum
            lines.append(f"{key} {_fields([int(x) for x in total])} {ts}".encode())
        return lines


_COUNTS = (
    "households",
    "unprotected",
    "devices",
    "devices_offline",
    "devices_attention",
    "level",
    "active_p1",
    "active_p2",
    "active_p3",
    "active_p4",
    "unacknowledged",
    "welfare_due",
)


def _fields(row: list[int]) -> str:
    return ",".join(f"{name}={value}i" for name, value in zip(_COUNTS, row, strict=True))
