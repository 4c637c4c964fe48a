"""Data lifecycle on a real InfluxDB: retention policies, continuous queries, where each kind of point lands,
late data downsampled again, and the estate's state written for the dashboards."""

from __future__ import annotations

import time

from simulators import scenarios as sc
from tests.integration.test_alarms import gateway, publish
from tests.support import influx_rows as rows
from tests.support import stored_count, wait_for


def policies(port: int) -> dict[str, tuple[str, bool]]:
    return {
        r["name"]: (r["duration"], r["default"]) for r in rows(port, 'SHOW RETENTION POLICIES ON "guardian"')
    }


def test_policies_queries_and_routing(tmp_path, broker, influx) -> None:  # type: ignore[no-untyped-def]
    gw = gateway(tmp_path, broker, influx, GUARDIAN_INFLUX__DOOR_RETENTION="7d")
    gw.start()
    try:
        wait_for(lambda: "h1" in policies(influx.port), 20, 0.2, "retention policies")
        rp = policies(influx.port)
        assert rp["raw"] == ("720h0m0s", True)
        assert rp["door"] == ("168h0m0s", False)  # configured: 7 days
        assert rp["events"] == ("26280h0m0s", False)  # 3 years
        assert rp["m1"] == ("8760h0m0s", False) and rp["h1"] == ("43800h0m0s", False)
        cqs = {r["name"]: r["query"] for r in rows(influx.port, "SHOW CONTINUOUS QUERIES") if r.get("name")}
        assert {"cq_sensor_reading_1m", "cq_sensor_reading_1h", "cq_door_activity_1m"} <= set(cqs)
        assert "INTO guardian.m1.sensor_reading" in cqs["cq_sensor_reading_1m"]

        now = time.time()
        publish(
            broker,
            [
                sc.event(
                    "t1",
                    "d-1",
                    now,
                    "access_granted",
                    1,
                    door=True,
                    person="p-1",
                    method="face",
                    direction="out",
                ),
                sc.event("t1", "s-1", now, "alarm_co", 1),
            ],
        )
        wait_for(lambda: stored_count(influx.port, "door_event") == 1, 20, 0.2, "door event")
        wait_for(lambda: rows(influx.port, 'SELECT * FROM "events"."alarm"'), 20, 0.2, "alarm")
        # not in the raw policy: door passages must expire on their own (shorter) schedule
        assert not rows(influx.port, 'SELECT * FROM "raw"."door_event"')
        assert not rows(influx.port, 'SELECT * FROM "raw"."alarm"')
    finally:
        gw.stop()
    # a changed duration is applied on the next start
    gw.extra_env["GUARDIAN_INFLUX__DOOR_RETENTION"] = "14d"
    gw.start()
    try:
        wait_for(lambda: policies(influx.port)["door"][0] == "336h0m0s", 20, 0.2, "door policy altered")
    finally:
        gw.stop()


def test_late_data_is_downsampled_and_state_is_written(tmp_path, broker, influx) -> None:  # type: ignore[no-untyped-def]
    """Readings from 3 hours ago (a concentrator's backlog) missed their continuous queries' windows; the
    gateway downsamples their range again, so the 1-minute and 1-hour series hold them."""
    start = (int(time.time()) // 3600 - 3) * 3600 + 60.0
    co = sc.readings(
        site="t1",
        device="s-1",
        start=start,
        end=start + 600,
        co=sc.step(20.0, 40.0, start + 300),
        interval=(10.0, 10.0),
        noise=0.0,
    )
    env = {
        "GUARDIAN_INGEST__MAX_SKEW": "1e9",
        "GUARDIAN_INFLUX__BACKFILL_SECONDS": "1",
        "GUARDIAN_ALERTS__STATUS_SECONDS": "1",
        "GUARDIAN_ALERTS__STATS_SECONDS": "1",
    }
    gw = gateway(tmp_path, broker, influx, **env)
    gw.start()
    try:
        publish(broker, co)
        wait_for(lambda: stored_count(influx.port) >= len(co), 30, 0.3, "readings stored")
        wait_for(
            lambda: rows(influx.port, 'SELECT * FROM "h1"."sensor_reading"'),
            30,
            0.5,
            "hourly series backfilled",
        )
        minutes = rows(influx.port, 'SELECT * FROM "m1"."sensor_reading"')
        assert len(minutes) == 10, minutes
        assert [m["co_ppm"] for m in minutes] == [20.0] * 5 + [40.0] * 5
        assert sum(m["readings"] for m in minutes) == len(co)
        (hour,) = rows(influx.port, 'SELECT * FROM "h1"."sensor_reading"')
        assert hour["co_ppm"] == 30.0 and hour["co_ppm_max"] == 40.0 and hour["readings"] == len(co)
        assert hour["device"] == "s-1" and hour["household"] == "b1-u1-101"

        wait_for(lambda: rows(influx.port, 'SELECT * FROM "site_state"'), 20, 0.3, "site state")
        (site,) = rows(influx.port, 'SELECT last(*) FROM "site_state" GROUP BY "site"')
        assert site["site"] == "t1" and site["last_households"] >= 1
        # CO in the air: the detector's dose and COHb are written while they are above baseline
        wait_for(
            lambda: rows(influx.port, 'SELECT * FROM "device_state" WHERE "device" = \'s-1\''), 20, 0.3, "s-1"
        )
        (device,) = rows(
            influx.port, 'SELECT last("health"), last("dose") FROM "device_state" WHERE "device" = \'s-1\''
        )
        assert device["last"] == "ok" and device["last_1"] > 0.005, device
        # households are written while something is wrong, and once when it is over
        publish(broker, [sc.event("t1", "s-1", time.time(), "tamper", 1000)])
        home = 'SELECT * FROM "household_state" WHERE "household" = \'b1-u1-101\' AND "unprotected" = 1'
        wait_for(lambda: rows(influx.port, home), 20, 0.3, "the tampered household's state")
        first = rows(influx.port, home)[0]
        assert first["reason"] == "CO: s-1 fault; gas: s-1 fault", first
        publish(broker, [sc.event("t1", "s-1", time.time(), "restored", 1001)])
        latest = 'SELECT last("unprotected") FROM "household_state" WHERE "household" = \'b1-u1-101\''
        wait_for(lambda: rows(influx.port, latest)[0]["last"] == 0, 20, 0.3, "the recovery point")
        wait_for(
            lambda: rows(
                influx.port,
                'SELECT last("value") FROM "gateway" WHERE "metric" = \'messages_received_total\'',
            ),
            20,
            0.3,
            "gateway metrics",
        )
        (received,) = rows(
            influx.port, 'SELECT last("value") FROM "gateway" WHERE "metric" = \'messages_received_total\''
        )
        assert received["last"] >= len(co)
    finally:
        gw.stop()
