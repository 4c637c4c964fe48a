"""VictoriaMetrics as the store (docs/victoriametrics.md), against a real `victoria-metrics`: readings written
through the gateway's own writer (encoder, exporter, client) read back exactly, a point written twice is
stored once, and a point older than the retention, which VictoriaMetrics drops with only a log line, is
quarantined and counted by the gateway instead of being lost unnoticed."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from gateway.errors import StorageUnavailable
from gateway.influx.client import InfluxV1
from gateway.ops import services
from sensors.rejections import Reason
from tests.support import vm_export, vm_query, wait_for
from tests.victoria import SENSORS
from tests.victoria import lines as _lines
from tests.victoria import settings as _settings
from tests.victoria import write as _write

DAY = 86400.0


def _samples(port: int, metric: str) -> dict[str, list[tuple[int, float]]]:
    """device -> [(ms, value)] as stored."""
    return {
        s["metric"]["device"]: list(zip(s["timestamps"], s["values"], strict=True))
        for s in vm_export(port, f'{metric}{{db="guardian"}}')
    }


def _ms(ts: float) -> int:
    """A reading's stored time: VictoriaMetrics keeps milliseconds, the point's sub-millisecond `seq` part
    (gateway/influx/lineprotocol.py) is dropped."""
    return round(ts * 1e6) // 1000


def test_readings_written_by_the_gateway_read_back_exactly(
    victoria: services.ChildServer, tmp_path: Path
) -> None:
    now = time.time()
    readings = [
        (SENSORS[i], round(now - 120 + i * 7.125, 3), 40 + i, {"co_ppm": 1.5 + i, "gas_lel": 0.25 * i})
        for i in range(3)
    ] + [(SENSORS[0], round(now - 60.5, 3), 50, {"co_ppm": 37.0, "gas_lel": 4.75, "battery_pct": 88.5})]
    metrics = asyncio.run(_write(tmp_path, _settings(victoria.port), _lines(readings, now)))
    assert metrics.points_written._value.get() == 4

    def expected(field: str) -> dict[str, list[tuple[int, float]]]:
        out: dict[str, list[tuple[int, float]]] = {}
        for device, ts, _seq, fields in readings:
            if field in fields:
                out.setdefault(device, []).append((_ms(ts), fields[field]))
        return out

    wait_for(lambda: _samples(victoria.port, "sensor_reading_co_ppm") == expected("co_ppm"), 15)
    assert _samples(victoria.port, "sensor_reading_gas_lel") == expected("gas_lel")
    assert _samples(victoria.port, "sensor_reading_battery_pct") == expected("battery_pct")
    seqs = _samples(victoria.port, "sensor_reading_seq")
    assert seqs[SENSORS[0]] == [(_ms(readings[0][1]), 40.0), (_ms(readings[3][1]), 50.0)]
    # the tags are labels, the `db` argument one more
    labels = vm_export(victoria.port, f'sensor_reading_co_ppm{{device="{SENSORS[1]}"}}')[0]["metric"]
    assert {k: labels[k] for k in ("db", "site", "device")} == {
        "db": "guardian",
        "site": "t1",
        "device": SENSORS[1],
    }
    assert labels["household"] and labels["building"] and labels["grid"]
    # and a PromQL query at the reading's time answers its value
    at = readings[1][1]
    result = vm_query(
        victoria.port, "/api/v1/query", query=f'sensor_reading_co_ppm{{device="{SENSORS[1]}"}}', time=str(at)
    )
    assert [float(r["value"][1]) for r in result] == [2.5]


def test_a_point_written_twice_is_stored_once(victoria: services.ChildServer, tmp_path: Path) -> None:
    """A retry or a replay after a crash writes the same point again: with -dedup.minScrapeInterval=1ms
    VictoriaMetrics keeps one sample per series and millisecond, as InfluxDB keeps one point."""
    now = time.time()
    readings = [(SENSORS[i], round(now - 30 + i, 3), 7, {"co_ppm": 3.0 + i}) for i in range(2)]
    encoded = _lines(readings, now)
    asyncio.run(_write(tmp_path, _settings(victoria.port), encoded))
    asyncio.run(_write(tmp_path, _settings(victoria.port), encoded))  # the replay
    expected = {d: [(_ms(ts), f["co_ppm"])] for d, ts, _s, f in readings}
    wait_for(lambda: _samples(victoria.port, "sensor_reading_co_ppm") == expected, 15)
    time.sleep(1.5)  # past the in-memory buffer's flush: nothing more arrives
    assert _samples(victoria.port, "sensor_reading_co_ppm") == expected


def test_without_dedup_victoriametrics_keeps_both_copies(tmp_path: Path) -> None:
    """Why the dedup flag is part of the deployment (docs/victoriametrics.md): without it, the replay is a
    second sample of the same series and millisecond."""
    with services.victoria_metrics(tmp_path / "nodedup", dedup=False) as server:
        services.wait_victoria_ready(server.port)
        now = time.time()
        encoded = _lines([(SENSORS[0], round(now - 10, 3), 1, {"co_ppm": 9.0})], now)
        asyncio.run(_write(tmp_path, _settings(server.port), encoded))
        asyncio.run(_write(tmp_path, _settings(server.port), encoded))
        wait_for(lambda: len(_samples(server.port, "sensor_reading_co_ppm").get(SENSORS[0], [])) == 2, 15)


def test_a_point_beyond_retention_is_quarantined_not_lost(
    victoria: services.ChildServer, tmp_path: Path
) -> None:
    now = time.time()
    old_ts, fresh_ts = round(now - 400 * DAY, 3), round(now - 5, 3)
    old = _lines([(SENSORS[0], old_ts, 3, {"co_ppm": 11.0})], old_ts)
    settings = _settings(victoria.port, vm_retention="365d")

    # VictoriaMetrics itself says 204 to the old point and keeps nothing: only its log tells
    async def straight() -> None:
        async with InfluxV1(settings) as store:
            await store.write(old.lines[0])

    asyncio.run(straight())
    fresh = _lines([(SENSORS[1], fresh_ts, 4, {"co_ppm": 2.0})], now)
    asyncio.run(_write(tmp_path / "first", settings, fresh))
    wait_for(lambda: SENSORS[1] in _samples(victoria.port, "sensor_reading_co_ppm"), 15)
    assert SENSORS[0] not in _samples(victoria.port, "sensor_reading_co_ppm")
    assert "outside the retention" in victoria.log.read_text()

    # through the gateway's writer, the old point is refused before writing, counted and quarantined
    (tmp_path / "gw").mkdir()
    both = _lines(
        [(SENSORS[0], old_ts, 3, {"co_ppm": 11.0}), (SENSORS[2], fresh_ts, 5, {"co_ppm": 4.0})], now
    )
    metrics = asyncio.run(_write(tmp_path / "gw", settings, both))
    assert metrics.rejected.labels(reason=Reason.BEYOND_RETENTION.value)._value.get() == 1
    assert metrics.points_written._value.get() == 1
    with sqlite3.connect(tmp_path / "gw" / "spool.sqlite3") as db:
        rows = db.execute("SELECT msg_id, reason, detail, payload FROM quarantine").fetchall()
    assert len(rows) == 1
    msg_id, reason, detail, payload = rows[0]
    assert (msg_id, reason, payload) == (both.msg_ids[0], "beyond_retention", both.lines[0])
    assert "400.0 days old" in detail and "365d" in detail
    wait_for(lambda: SENSORS[2] in _samples(victoria.port, "sensor_reading_co_ppm"), 15)
    assert SENSORS[0] not in _samples(victoria.port, "sensor_reading_co_ppm")


def test_health_is_victoriametrics_own(victoria: services.ChildServer) -> None:
    async def check(port: int) -> None:
        async with InfluxV1(_settings(port, timeout=2.0)) as store:
            await store.health()

    asyncio.run(check(victoria.port))
    with pytest.raises(StorageUnavailable):
        asyncio.run(check(services.free_port()))
