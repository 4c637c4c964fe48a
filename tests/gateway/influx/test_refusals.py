"""A line InfluxDB refuses is quarantined alone, with the store's reason, while its neighbours in the same
batch are written (one box; the district does the same into GUARDIAN_REJECTED, tests/district/test_refused.py).

InfluxDB 1.x refuses a point whose field has another type in the same shard, "field type conflict" (400), as
after someone wrote into the database by hand. Real influxd, the gateway's own exporter."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import urllib.request
from pathlib import Path

from gateway.config.settings import InfluxSettings
from gateway.ops import services
from sensors.rejections import Reason
from tests.support import influx_query
from tests.victoria import SENSORS
from tests.victoria import lines as _lines
from tests.victoria import write as _write


def test_a_refused_line_is_quarantined_alone_and_its_neighbours_are_written(tmp_path: Path) -> None:
    with services.influxd(tmp_path / "influxdb") as influx:
        services.wait_influx_ready(influx.port)
        settings = InfluxSettings(url=f"http://127.0.0.1:{influx.port}")
        now = time.time()
        ts = round(now - 60, 3)
        first = _lines([(SENSORS[0], ts, 1, {"co_ppm": 1.0})], now)
        asyncio.run(_write(tmp_path / "schema", settings, first))  # creates the database and its policies
        # gas_lel made a string in this shard by hand: a reading carrying gas_lel now conflicts, one without not
        poison = f'sensor_reading,site=t1,device=by-hand gas_lel="x" {int(ts * 1e9)}'.encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{influx.port}/write?db=guardian&rp=raw", data=poison, method="POST"
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 204
        readings = [
            (SENSORS[0], ts + 1, 2, {"co_ppm": 2.0}),
            (SENSORS[1], ts + 1, 3, {"gas_lel": 5.0}),  # refused
            (SENSORS[2], ts + 2, 4, {"co_ppm": 3.0}),
            (SENSORS[1], ts + 3, 5, {"co_ppm": 4.0}),
            (SENSORS[2], ts + 4, 6, {"gas_lel": 1.0}),  # refused
        ]
        batch = _lines(readings, now)
        (tmp_path / "gw").mkdir()
        metrics = asyncio.run(_write(tmp_path / "gw", settings, batch))
        assert metrics.rejected.labels(reason=Reason.STORAGE_REJECTED.value)._value.get() == 2
        with sqlite3.connect(tmp_path / "gw" / "spool.sqlite3") as db:
            rows = db.execute(
                "SELECT msg_id, reason, detail, payload FROM quarantine ORDER BY msg_id"
            ).fetchall()
        assert [(m, r, p) for m, r, _, p in rows] == [
            (batch.msg_ids[1], "storage_rejected", batch.lines[1]),
            (batch.msg_ids[4], "storage_rejected", batch.lines[4]),
        ]
        assert all("field type conflict" in d for _, _, d, _ in rows)
        got = influx_query(
            influx.port, 'SELECT "seq" FROM "raw"."sensor_reading" WHERE "device" <> \'by-hand\''
        )
        assert sorted(int(v[1]) for s in got for v in s["values"]) == [1, 2, 4, 5]
