"""Every kind of bad input is rejected with its reason, counted and quarantined; good traffic still flows."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import msgspec

from simulators import estate
from simulators.fleet import publish_all
from tests.support import GatewayProcess, simulator_login, stored_count, wait_for

S = "guardian/t1/sensor/s-00001"
HOSTILE: list[tuple[str, bytes, str]] = [
    (f"{S}/telemetry", b"{not json", "invalid_json"),
    (f"{S}/telemetry", b'{"seq": 1, "co_ppm": "\xff\xfe"}', "invalid_utf8"),
    (f"{S}/telemetry", b'{"seq": "one", "co_ppm": 1}', "invalid_field"),
    (f"{S}/telemetry", b'{"seq": 1, "co_ppm": 1, "extra": 2}', "invalid_field"),
    (f"{S}/telemetry", b'{"seq": 1, "co_ppm": -3}', "out_of_range"),
    (f"{S}/telemetry", b'{"seq": 1, "gas_lel": 250}', "out_of_range"),
    (f"{S}/telemetry", b'{"seq": 1, "co_ppm": NaN}', "non_finite"),
    (f"{S}/telemetry", b'{"seq": 1, "co_ppm": Infinity}', "non_finite"),
    (f"{S}/telemetry", b'{"seq": 1, "co_ppm": 1e999}', "non_finite"),
    (f"{S}/telemetry", b'{"seq": 1, "co_ppm": 1, "pad": "' + b"x" * 5000 + b'"}', "oversize"),
    (f"{S}/telemetry", b'{"seq": 1, "battery_pct": 50}', "no_measurement"),
    (f"{S}/telemetry", b'{"seq": 1, "co_ppm": 1, "device": "s-00002"}', "device_mismatch"),
    ("guardian/t1/sensor/s-99999/telemetry", b'{"seq": 1, "co_ppm": 1}', "unknown_device"),
    ("guardian/t1/door/s-00001/event", b'{"seq": 1, "event": "access_granted"}', "device_mismatch"),
    ("guardian/t1/sensor/d-b1-u1/telemetry", b'{"seq": 1, "co_ppm": 1}', "device_mismatch"),
    ("guardian/t1/sensor/bad,id/telemetry", b'{"seq": 1, "co_ppm": 1}', "invalid_topic"),
    ("guardian/t1/sensor/s-00001/firmware", b"{}", "invalid_topic"),
    (
        "guardian/t1/door/d-b1-u1/event",
        b'{"seq": 1, "event": "access_granted", "person": "p 1,x=2"}',
        "unsafe_chars",
    ),
    (
        "guardian/t1/door/d-b1-u1/event",
        b'{"seq": 1, "event": "access_granted", "person": "a\\"b\\nc"}',
        "unsafe_chars",
    ),
    ("guardian/t1/door/d-b1-u1/event", b'{"seq": 1, "event": "open_sesame"}', "invalid_field"),
    (
        "guardian/t1/sensor/_batch/telemetry",
        b'{"readings": [{"seq": 1, "co_ppm": 1, "device": "s-77777"}]}',
        "unknown_device",
    ),
]


def test_hostile_payloads_rejected_with_reason_counted_and_quarantined(
    tmp_path, registry_file, registry_dict, broker, influx
):
    gw = GatewayProcess.against(
        broker,
        influx,
        registry=registry_file,
        data_dir=tmp_path / "gw",
    )
    gw.start()
    try:
        devices = estate.sensor_ids(registry_dict)
        now = time.time()
        good = [
            (
                f"guardian/t1/sensor/{d}/telemetry",
                msgspec.json.encode({"seq": i, "ts": now - 100 + i, "co_ppm": 2.0}),
            )
            for i in range(5)
            for d in devices
        ]
        batch = msgspec.json.encode(
            {"readings": [{"device": d, "seq": 9, "ts": now, "gas_lel": 1.0} for d in devices[:10]]}
        )
        good.append(("guardian/t1/sensor/_batch/telemetry", batch))
        door = msgspec.json.encode(
            {
                "seq": 1,
                "ts": now,
                "event": "access_granted",
                "person": "p-00001",
                "method": "face",
                "direction": "out",
            }
        )
        good.append(("guardian/t1/door/d-b1-u1/event", door))
        messages = [(t, p) for t, p, _ in HOSTILE]
        mixed = [m for pair in zip(good[: len(messages)], messages, strict=True) for m in pair] + good[
            len(messages) :
        ]
        asyncio.run(
            publish_all(host="127.0.0.1", port=broker.port, login=simulator_login(broker), messages=mixed)
        )

        wait_for(
            lambda: stored_count(influx.port) >= len(devices) * 5 + 10, 30, message="good readings stored"
        )
        wait_for(lambda: stored_count(influx.port, "door_event") >= 1, 30, message="door event stored")
        expected: dict[str, int] = {}
        for _, _, reason in HOSTILE:
            expected[reason] = expected.get(reason, 0) + 1
        wait_for(
            lambda: (
                sum(gw.metric("guardian_rejected_total", f'reason="{r}"') for r in expected) >= len(HOSTILE)
            ),
            30,
            message="rejections counted",
            diagnose=lambda: gw.metrics(),
        )
        for reason, n in expected.items():
            assert gw.metric("guardian_rejected_total", f'reason="{reason}"') == n, reason
        assert stored_count(influx.port) == len(devices) * 5 + 10
        time.sleep(1)  # quarantine rows are committed right after the batch is counted
        with sqlite3.connect(tmp_path / "gw" / "spool.sqlite3") as db:
            rows = db.execute(
                "SELECT topic, reason, length(payload) FROM quarantine ORDER BY msg_id"
            ).fetchall()
        assert sorted(r[1] for r in rows) == sorted(reason for _, _, reason in HOSTILE)
        assert all(length <= 1024 for *_, length in rows), "quarantined payloads are truncated"
        status, _ = gw.health()
        assert status == 200, "bad input never stops the pipeline"
    finally:
        gw.stop()


def test_a_flooding_device_is_throttled_and_reported_while_the_others_flow(
    tmp_path, registry_file, registry_dict, broker, influx
):
    """s-00001 (with its own, valid credential) sends 3,000 readings as fast as it can while the simulator
    publishes the other devices' normal readings: the others all arrive, the flood is cut to its burst and
    rate, and every one of its messages is either stored once or counted as rate_limited."""
    from simulators.fleet import connected

    gw = GatewayProcess.against(
        broker,
        influx,
        registry=registry_file,
        data_dir=tmp_path / "gw",
        extra_env={"GUARDIAN_INGEST__FLOOD_BURST": "200", "GUARDIAN_INGEST__FLOOD_RATE": "2"},
    )
    gw.start()
    flood = 3000
    try:
        others = [d for d in estate.sensor_ids(registry_dict) if d != "s-00001"]
        now = time.time()
        normal = [
            (
                f"guardian/t1/sensor/{d}/telemetry",
                msgspec.json.encode({"seq": i, "ts": now + i, "co_ppm": 1.0}),
            )
            for i in range(10)
            for d in others
        ]
        login = broker.access.device_login("t1", "s-00001")

        async def both() -> float:
            started = time.monotonic()
            async with connected("127.0.0.1", broker.port, login[0], login) as session:
                pending = []
                for i in range(flood):
                    payload = msgspec.json.encode({"seq": i, "ts": time.time(), "co_ppm": 1.0})
                    fut = await session.publish_nowait("guardian/t1/sensor/s-00001/telemetry", payload)
                    pending.append(fut)
                    if i == flood // 2:
                        await publish_all(
                            host="127.0.0.1", port=broker.port, login=simulator_login(broker), messages=normal
                        )
                await asyncio.gather(*pending)
            return time.monotonic() - started

        elapsed = asyncio.run(both())

        def flooder() -> int:
            return stored_count(influx.port, where="\"device\" = 's-00001'")

        def settled() -> bool:
            limited = gw.metric("guardian_rejected_total", 'reason="rate_limited"')
            return stored_count(influx.port) - flooder() >= len(normal) and flooder() + limited >= flood

        wait_for(settled, 60, message="every message stored or counted", diagnose=gw.metrics)
        assert stored_count(influx.port) - flooder() == len(normal), "the other devices lost readings"
        limited = gw.metric("guardian_rejected_total", 'reason="rate_limited"')
        assert flooder() + limited == flood
        assert 200 <= flooder() <= 200 + 2 * (elapsed + 5), (flooder(), elapsed)
        assert "device s-00001 of site t1 is flooding" in gw.log_tail()
        assert gw.metric("guardian_devices_flooding") == 1
        with sqlite3.connect(tmp_path / "gw" / "spool.sqlite3") as db:
            kept = db.execute("SELECT topic, detail FROM quarantine WHERE reason = 'rate_limited'").fetchall()
        assert kept and all(topic.endswith("/s-00001/telemetry") for topic, _ in kept)
        assert gw.health()[0] == 200
    finally:
        gw.stop()
