"""From publish to stored row, against a real Mosquitto and a real InfluxDB."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import msgspec

from gateway.ops import services
from simulators import estate
from simulators.fleet import publish_all
from tests.support import GatewayProcess, simulator_login, stored_count, stored_seqs, wait_for

SITE = "t1"


def numbered(devices: list[str], per_device: int, *, with_ts: bool = True, start: float | None = None):
    """per_device readings for every device, interleaved; ts optional (then receive time is used)."""
    base = start if start is not None else time.time() - per_device
    out = []
    for seq in range(per_device):
        for d in devices:
            body: dict = {"seq": seq, "co_ppm": 1.0 + seq % 7, "gas_lel": 0.0, "battery_pct": 90.0}
            if with_ts:
                body["ts"] = base + seq + 0.001 * (hash(d) % 997)
            out.append((f"guardian/{SITE}/sensor/{d}/telemetry", msgspec.json.encode(body)))
    return out


def _gateway(tmp_path: Path, registry_file: Path, broker, influx) -> GatewayProcess:
    return GatewayProcess.against(
        broker,
        influx,
        registry=registry_file,
        data_dir=tmp_path / "gw",
    )


def test_ten_thousand_readings_from_100_devices_stored_exactly_once(
    tmp_path, registry_file, registry_dict, broker, influx
):
    gw = _gateway(tmp_path, registry_file, broker, influx)
    gw.start()
    try:
        devices = estate.sensor_ids(registry_dict)
        assert len(devices) == 100
        asyncio.run(
            publish_all(
                host="127.0.0.1",
                port=broker.port,
                login=simulator_login(broker),
                messages=numbered(devices, 100),
            )
        )
        wait_for(lambda: stored_count(influx.port) >= 10_000, 60, message="10,000 rows")
        time.sleep(1.0)
        assert stored_count(influx.port) == 10_000
        seqs = stored_seqs(influx.port)
        assert sorted(seqs) == sorted(devices)
        assert all(v == list(range(100)) for v in seqs.values())
        assert gw.metric("guardian_accepted_total", 'kind="reading"') == 10_000
        status, body = gw.health()
        assert status == 200 and body["status"] == "ok"
    finally:
        gw.stop()


def test_sigkill_mid_stream_loses_nothing_and_stores_nothing_twice(
    tmp_path, registry_file, registry_dict, broker, influx
):
    """Half the readings carry no device time: a redelivered duplicate of those would be a second row."""
    gw = _gateway(tmp_path, registry_file, broker, influx)
    gw.start()
    devices = estate.sensor_ids(registry_dict)
    messages = numbered(devices[:50], 200, with_ts=True) + numbered(devices[50:], 200, with_ts=False)
    messages.sort(key=lambda m: msgspec.json.decode(m[1])["seq"])  # interleave both halves over time
    total = len(messages)
    publisher = threading.Thread(
        target=lambda: asyncio.run(
            publish_all(
                host="127.0.0.1",
                port=broker.port,
                login=simulator_login(broker),
                messages=messages,
                rate=4000,
            )
        )
    )
    publisher.start()
    try:
        wait_for(
            lambda: gw.metric("guardian_messages_received_total") > total * 0.3, 30, 0.05, "a third received"
        )
        gw.kill()
        time.sleep(1.0)  # the broker queues for the persistent session meanwhile
        gw.start()
        publisher.join(60)
        assert not publisher.is_alive()
        wait_for(
            lambda: stored_count(influx.port) >= total,
            90,
            message=f"{total} rows",
            diagnose=lambda: f"stored {stored_count(influx.port)}; health {gw.health()}\n{gw.log_tail()}",
        )
        time.sleep(1.5)
        assert stored_count(influx.port) == total
        seqs = stored_seqs(influx.port)
        assert all(v == list(range(200)) for v in seqs.values()), "a reading is missing or stored twice"
        assert len(seqs) == 100
    finally:
        gw.stop()
        publisher.join(5)


def test_influxdb_down_for_30s_then_everything_arrives(
    tmp_path, registry_file, registry_dict, broker, influx
):
    gw = _gateway(tmp_path, registry_file, broker, influx)
    gw.start()
    devices = estate.sensor_ids(registry_dict)
    messages = numbered(devices, 120)  # 12,000 readings over ~40 s
    publisher = threading.Thread(
        target=lambda: asyncio.run(
            publish_all(
                host="127.0.0.1", port=broker.port, login=simulator_login(broker), messages=messages, rate=300
            )
        )
    )
    publisher.start()
    try:
        wait_for(lambda: stored_count(influx.port) > 1000, 30, message="first rows")
        influx.stop()
        outage_started = time.monotonic()
        reported = []
        while time.monotonic() - outage_started < 30:
            status, body = gw.health()
            reported.append((status, body.get("influx", {}).get("ok"), body.get("spool", {}).get("depth", 0)))
            time.sleep(1)
        assert any(s == 503 and ok is False for s, ok, _ in reported), reported
        assert max(depth for *_, depth in reported) > 0, "spool depth should grow during the outage"
        influx.start()
        services.wait_influx_ready(influx.port)
        publisher.join(90)
        wait_for(lambda: stored_count(influx.port) >= len(messages), 90, message="all rows after recovery")
        time.sleep(1)
        assert stored_count(influx.port) == len(messages)
        wait_for(lambda: gw.health()[0] == 200, 30, message="healthy again")
        assert gw.health()[1]["spool"]["depth"] == 0
    finally:
        gw.stop()
        publisher.join(5)


def test_wrong_influxdb_credentials_hold_the_data_and_say_so(
    tmp_path, registry_file, registry_dict, broker
) -> None:  # type: ignore[no-untyped-def]
    """401 from InfluxDB is a configuration fault: nothing is dropped, /healthz says why, and once the
    credentials are fixed everything held in the spool arrives."""
    import urllib.parse
    import urllib.request

    with services.influxd(tmp_path / "influx-auth", auth=True) as influx:
        services.wait_influx_ready(influx.port)
        create = urllib.parse.urlencode(
            {"q": "CREATE USER admin WITH PASSWORD 's3cret-pw-for-admin' WITH ALL PRIVILEGES"}
        )
        urllib.request.urlopen(
            f"http://127.0.0.1:{influx.port}/query", data=create.encode(), timeout=10
        ).close()
        gw = _gateway(tmp_path, registry_file, broker, influx)
        gw.extra_env.update(
            GUARDIAN_INFLUX__USERNAME="admin", GUARDIAN_INFLUX__PASSWORD="wrong-password-typed"
        )
        gw.start()
        messages = numbered(estate.sensor_ids(registry_dict), 5)
        try:
            asyncio.run(
                publish_all(
                    host="127.0.0.1", port=broker.port, login=simulator_login(broker), messages=messages
                )
            )

            # the broker acknowledged the publisher; the gateway takes them from its session a moment later
            def held() -> bool:
                code, body = gw.health()
                return code == 503 and body["spool"]["depth"] > 0

            wait_for(held, 30, message="health reports the refusal with the readings held in the spool")
            _, body = gw.health()
            assert body["influx"]["ok"] is False and "401" in (body["influx"]["error"] or ""), body
        finally:
            gw.stop()
        gw.extra_env["GUARDIAN_INFLUX__PASSWORD"] = "s3cret-pw-for-admin"
        gw.start()
        try:
            auth = ("admin", "s3cret-pw-for-admin")
            wait_for(
                lambda: stored_count(influx.port, auth=auth) >= len(messages), 60, message="held rows arrive"
            )
            assert stored_count(influx.port, auth=auth) == len(messages)
            wait_for(lambda: gw.health()[0] == 200, 30, message="healthy with the right password")
        finally:
            gw.stop()
