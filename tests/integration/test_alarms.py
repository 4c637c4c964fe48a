"""Alarms live: raised from real MQTT traffic, stored in InfluxDB, and surviving a SIGKILL mid-exposure."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import yaml

from simulators import scenarios as sc
from simulators.fleet import publish_all
from tests.support import GatewayProcess, influx_query, simulator_login, stored_count, wait_for


def publish(broker, messages: list[dict]) -> None:  # type: ignore[no-untyped-def]
    wire = [(m["topic"], msgspec.json.encode(m["payload"])) for m in messages]
    asyncio.run(publish_all(host="127.0.0.1", port=broker.port, login=simulator_login(broker), messages=wire))


def alarm_rows(port: int, where: str = "") -> list[dict]:
    series = influx_query(port, f'SELECT * FROM "events"."alarm" {where}')
    if not series:
        return []
    cols = series[0]["columns"]
    return [dict(zip(cols, v, strict=True)) for v in series[0]["values"]]


def gateway(tmp_path: Path, broker, influx, **env: str) -> GatewayProcess:  # type: ignore[no-untyped-def]
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump(sc.registry()))
    return GatewayProcess.against(
        broker,
        influx,
        registry=registry,
        data_dir=tmp_path / "gw",
        extra_env=env,
    )


def test_device_alarm_is_stored_as_an_alarm_transition(tmp_path, broker, influx) -> None:  # type: ignore[no-untyped-def]
    gw = gateway(tmp_path, broker, influx)
    gw.start()
    try:
        now = time.time()
        publish(broker, [sc.event("t1", "s-1", now, "alarm_co")])
        wait_for(lambda: alarm_rows(influx.port, "WHERE \"rule\" = 'CO-1'"), 30, 0.5, "CO-1 in InfluxDB")
        row = alarm_rows(influx.port, "WHERE \"rule\" = 'CO-1'")[0]
        assert row["transition"] == "raised" and row["severity"] == "P1"
        assert row["household"] == "b1-u1-101" and row["subject"] == "s-1"
        assert row["alarm_id"].startswith("t1:CO-1:s-1:")
    finally:
        gw.stop()


def test_restart_mid_exposure_still_alarms_inside_the_window(tmp_path, broker, influx) -> None:  # type: ignore[no-untyped-def]
    """100 ppm from ONSET: the gateway is SIGKILLed 15 min in (no snapshot yet: it rebuilds the dose from the
    spool), restarted, and the alarm still comes 10-40 min after onset, not 10-40 min after the restart."""
    start = time.time() - 3 * 3600  # recorded device time: the skew limit is lifted for this test
    onset = start + 600
    exposure = sc.readings(
        site="t1", device="s-1", start=start, end=onset + 45 * 60, co=sc.step(0, 100, onset)
    )
    before = [m for m in exposure if m["payload"]["ts"] < onset + 15 * 60]
    after = exposure[len(before) :]
    env = {"GUARDIAN_INGEST__MAX_SKEW": "1e9", "GUARDIAN_ALERTS__SNAPSHOT_SECONDS": "3600"}
    gw = gateway(tmp_path, broker, influx, **env)
    gw.start()
    publish(broker, before)
    wait_for(lambda: stored_count(influx.port) >= len(before), 30, 0.3, "first part stored")
    assert not alarm_rows(influx.port, "WHERE \"rule\" = 'CO-1'"), "no alarm 15 min into 100 ppm"
    time.sleep(2)  # the processor's cursor is saved every 0.5 s: the restart must not simply redo everything
    gw.kill()
    assert not (tmp_path / "gw" / "alerts.snapshot").exists()
    gw.start()
    try:
        publish(broker, after)
        wait_for(lambda: stored_count(influx.port) >= len(exposure), 30, 0.3, "everything stored")
        wait_for(lambda: alarm_rows(influx.port, "WHERE \"rule\" = 'CO-1'"), 30, 0.5, "CO-1 raised")
        raised = alarm_rows(influx.port, "WHERE \"rule\" = 'CO-1' AND \"transition\" = 'raised'")
        assert len(raised) == 1
        t = raised[0]["time"]
        minutes = (_epoch(t) - onset) / 60
        assert 10 <= minutes <= 40, f"alarm {minutes:.1f} min after onset"
    finally:
        gw.stop()


def _epoch(rfc3339: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()
