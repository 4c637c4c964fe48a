"""Hostile input beyond tests/integration/test_hostile.py: deep nesting, ~1 MB payloads, duplicate keys, NUL
and line-protocol characters in every string field, unicode ids, a batch naming another site's device, and a
device at 10,000 msg/s. Each is rejected with its reason, counted and quarantined; the good traffic around
it is stored exactly once, and nothing reaches InfluxDB as a measurement, series or tag of its own."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import msgspec

from gateway.influx.policies import measurement_policy
from gateway.ops import services
from simulators import estate
from simulators.fleet import publish_all
from tests.battery.common import Publisher, assert_exactly_once, expected_seqs, publish
from tests.support import GatewayProcess, influx_query, stored_count, stored_seqs, wait_for

S = "guardian/t1/sensor/s-00001"
D = "guardian/t1/door/d-b1-u1/event"
OTHER_SITE_DEVICE = "t2s-00001"
"""A sensor of site t2 (registered there), named in a batch on site t1's topic."""


def _door(**fields: object) -> bytes:
    return msgspec.json.encode({"seq": 1, "event": "access_granted", **fields})


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


HOSTILE: list[tuple[str, bytes, str]] = [
    # deep nesting, within the 4 KiB limit so the parser meets it
    (f"{S}/telemetry", b'{"seq": 1, "co_ppm": ' + _nested(1500) + b"}", "invalid_field"),
    (
        f"{S}/telemetry",
        b'{"seq": 1, "co_ppm": 1, "x": ' + b'{"a": ' * 500 + b"1" + b"}" * 500 + b"}",
        "invalid_field",
    ),
    (f"{S}/telemetry", _nested(2000), "invalid_field"),
    ("guardian/t1/sensor/_batch/telemetry", b'{"readings": ' + _nested(3000) + b"}", "invalid_field"),
    # ~1 MB (the broker's max_packet_size is 1 MiB for the whole packet)
    (f"{S}/telemetry", b'{"seq": 1, "co_ppm": 1, "pad": "' + b"x" * 1_000_000 + b'"}', "oversize"),
    (
        "guardian/t1/sensor/_batch/telemetry",
        b'{"readings": [' + b'{"seq": 1, "co_ppm": 1},' * 40_000 + b"]}",
        "oversize",
    ),
    # NUL and line-protocol characters, one at a time, in each free-text or enumerated string field
    (D, _door(person="p-1\u0000x"), "unsafe_chars"),
    (D, b'{"seq": 1, "event": "access_granted", "person": "p-1\x00x"}', "invalid_json"),
    (D, _door(person="p\\1"), "unsafe_chars"),
    (D, _door(person="p=1"), "unsafe_chars"),
    (D, _door(person="p,1"), "unsafe_chars"),
    (D, _door(person="p 1"), "unsafe_chars"),
    (D, _door(person="p\r1"), "unsafe_chars"),
    (D, _door(person="p\t1"), "unsafe_chars"),
    (D, _door(person="'p1'"), "unsafe_chars"),
    (D, _door(method="face,x=1"), "invalid_field"),
    (D, _door(direction="in\nsensor_reading,device=x co_ppm=999"), "invalid_field"),
    (D, _door(event='access_granted" x=1'), "invalid_field"),
    (f"{S}/telemetry", msgspec.json.encode({"seq": 1, "co_ppm": 1, "device": "s-00001\\"}), "unsafe_chars"),
    (
        f"{S}/telemetry",
        msgspec.json.encode({"seq": 1, "co_ppm": 1, "device": "s-00001\u0000"}),
        "unsafe_chars",
    ),
    # unicode ids: in the topic, and in a payload's device field
    ("guardian/t1/sensor/s-0000\uff11/telemetry", b'{"seq": 1, "co_ppm": 1}', "invalid_topic"),
    ("guardian/t1/sensor/\u4f20\u611f\u5668/telemetry", b'{"seq": 1, "co_ppm": 1}', "invalid_topic"),
    ("guardian/\uff54\uff11/sensor/s-00001/telemetry", b'{"seq": 1, "co_ppm": 1}', "invalid_topic"),
    ("guardian/t1/sensor/s-00001\u200b/telemetry", b'{"seq": 1, "co_ppm": 1}', "invalid_topic"),
    (
        f"{S}/telemetry",
        msgspec.json.encode({"seq": 1, "co_ppm": 1, "device": "s-0000\uff11"}),
        "unsafe_chars",
    ),
    (
        "guardian/t1/sensor/_batch/telemetry",
        msgspec.json.encode({"readings": [{"seq": 1, "co_ppm": 1, "device": "s-0000\u0661"}]}),
        "unsafe_chars",
    ),
]


def _two_sites(tmp_path: Path, registry_dict: dict[str, Any]) -> Path:
    """Sites t1 (the fixtures' estate) and t2, whose sensors are t2s-00001...; one registry folder."""
    folder = tmp_path / "registries"
    folder.mkdir()
    (folder / "t1.yaml").write_text(estate.dump(registry_dict))
    t2 = estate.small_estate(site="t2", buildings=1, units=1, households_per_unit=2)
    for building in t2["buildings"]:
        for unit in building["units"]:
            for household in unit["households"]:
                for sensor in household["sensors"]:
                    sensor["id"] = "t2" + sensor["id"]
    (folder / "t2.yaml").write_text(estate.dump(t2))
    return folder


def _measurements(port: int) -> set[str]:
    return {v[0] for s in influx_query(port, "SHOW MEASUREMENTS") for v in s["values"]}


def _tag_values(port: int, measurement: str, key: str) -> set[str]:
    rp = measurement_policy(measurement, "raw")
    q = f'SHOW TAG VALUES FROM "{rp}"."{measurement}" WITH KEY = "{key}"'
    return {v[1] for s in influx_query(port, q) for v in s["values"]}


def _field_keys(port: int, measurement: str) -> set[str]:
    rp = measurement_policy(measurement, "raw")
    return {
        v[0] for s in influx_query(port, f'SHOW FIELD KEYS FROM "{rp}"."{measurement}"') for v in s["values"]
    }


def test_more_hostile_payloads_rejected_counted_quarantined_nothing_injected(
    tmp_path: Path, registry_dict: dict[str, Any], broker: services.ChildServer, influx: services.ChildServer
) -> None:
    """26 hostile messages interleaved with 500 good readings (100 devices x 5), a door event and a batch
    of 11 items (10 of t1's sensors and one of site t2's, rejected)."""
    gw = GatewayProcess.against(
        broker, influx, registry=_two_sites(tmp_path, registry_dict), data_dir=tmp_path / "gw"
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
        batch_items = [{"device": d, "seq": 9, "ts": now, "gas_lel": 1.0} for d in devices[:10]]
        batch_items.insert(3, {"device": OTHER_SITE_DEVICE, "seq": 9, "ts": now, "co_ppm": 900.0})
        batch = ("guardian/t1/sensor/_batch/telemetry", msgspec.json.encode({"readings": batch_items}))
        door = (D, msgspec.json.encode({"seq": 2, "ts": now, "event": "access_granted", "person": "p-00001"}))
        hostile = [(t, p) for t, p, _ in HOSTILE]
        mixed = [m for pair in zip(good[: len(hostile)], hostile, strict=True) for m in pair]
        mixed += [*good[len(hostile) :], batch, door]
        publish(broker, mixed)

        expected_good = expected_seqs(good)
        for d in devices[:10]:
            expected_good[d].append(9)
        expected_rows = sum(len(v) for v in expected_good.values())
        wait_for(lambda: stored_count(influx.port) >= expected_rows, 30, message="good readings stored")
        wait_for(lambda: stored_count(influx.port, "door_event") >= 1, 30, message="door event stored")
        reasons = [r for *_, r in HOSTILE] + ["unknown_device"]  # the batch's t2 item
        expected: dict[str, int] = {}
        for r in reasons:
            expected[r] = expected.get(r, 0) + 1
        wait_for(
            lambda: (
                sum(gw.metric("guardian_rejected_total", f'reason="{r}"') for r in expected) >= len(reasons)
            ),
            30,
            message="rejections counted",
            diagnose=gw.metrics,
        )
        time.sleep(1.0)  # quarantine rows are committed right after the batch is counted
        counted = {r: gw.metric("guardian_rejected_total", f'reason="{r}"') for r in expected}
        assert counted == expected
        with sqlite3.connect(tmp_path / "gw" / "spool.sqlite3") as db:
            rows = db.execute(
                "SELECT msg_id, topic, reason, length(payload) FROM quarantine ORDER BY msg_id, item"
            ).fetchall()
        assert sorted(r[2] for r in rows) == sorted(reasons), rows
        assert all(length <= 1024 for *_, length in rows), "quarantined payloads are truncated"

        assert_exactly_once(influx.port, expected_good)
        assert stored_count(influx.port, "door_event") == 1
        # nothing injected: the measurements are the gateway's own, tags and fields only the expected ones
        names = _measurements(influx.port)
        assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names), names
        assert {"sensor_reading", "door_event"} <= names
        assert _tag_values(influx.port, "sensor_reading", "device") == set(devices)
        assert OTHER_SITE_DEVICE not in stored_seqs(influx.port)
        assert _tag_values(influx.port, "door_event", "door") == {"d-b1-u1"}
        persons = [
            v[1]
            for s in influx_query(influx.port, 'SELECT "person" FROM "door"."door_event"')
            for v in s["values"]
        ]
        assert persons == ["p-00001"], persons
        fields = _field_keys(influx.port, "sensor_reading")
        assert all(re.fullmatch(r"[a-z][a-z0-9_]*", f) for f in fields) and "x" not in fields, fields
        assert gw.health()[0] == 200, "bad input never stops the pipeline"
        assert gw.proc is not None and gw.proc.poll() is None
    finally:
        gw.stop()


def test_duplicate_json_keys_are_rejected(
    tmp_path: Path, registry_file: Path, broker: services.ChildServer, influx: services.ChildServer
) -> None:
    """{"seq": 1, "co_ppm": 1, "co_ppm": 900}: parsers disagree on which value counts (a CO alarm or none),
    so the message must be rejected, not stored with one of them."""
    gw = GatewayProcess.against(broker, influx, registry=registry_file, data_dir=tmp_path / "gw")
    gw.start()
    try:
        marker = ("guardian/t1/sensor/s-00002/telemetry", b'{"seq": 1, "co_ppm": 1}')
        publish(broker, [(f"{S}/telemetry", b'{"seq": 1, "co_ppm": 1.5, "co_ppm": 900}'), marker])
        wait_for(lambda: stored_count(influx.port) >= 1, 30, message="the marker reading")
        time.sleep(1.0)
        rejected = gw.metric("guardian_rejected_total", 'reason="duplicate_key"')
        assert stored_count(influx.port, where="\"device\" = 's-00001'") == 0, "stored with one of the values"
        assert rejected == 1
    finally:
        gw.stop()


def test_one_device_at_10000_per_second_while_the_others_flow(
    tmp_path: Path,
    registry_file: Path,
    registry_dict: dict[str, Any],
    broker: services.ChildServer,
    influx: services.ChildServer,
) -> None:
    """s-00001, with its own credential, publishes 20,000 readings paced at 10,000 msg/s while the simulator
    publishes 1,980 readings of the 99 other devices (x 20) at 1,000 msg/s. Default flood guard (burst 1,000,
    2 msg/s): the others arrive exactly once, the flooder's messages are each stored once or counted
    rate_limited, and its stored share stays within the burst and rate."""
    gw = GatewayProcess.against(broker, influx, registry=registry_file, data_dir=tmp_path / "gw")
    gw.start()
    flood = 20_000
    try:
        others = [d for d in estate.sensor_ids(registry_dict) if d != "s-00001"]
        now = time.time()
        normal = [
            (
                f"guardian/t1/sensor/{d}/telemetry",
                msgspec.json.encode({"seq": i, "ts": now + i * 0.01, "co_ppm": 1.0}),
            )
            for i in range(20)
            for d in others
        ]
        flooding = [
            (f"{S}/telemetry", msgspec.json.encode({"seq": i, "ts": now + i * 1e-4, "co_ppm": 1.0}))
            for i in range(flood)
        ]
        assert broker.access is not None
        login = broker.access.device_login("t1", "s-00001")
        background = Publisher(broker, normal, rate=1000)
        elapsed: list[float] = []

        def flooder() -> None:
            import asyncio

            started = time.monotonic()
            asyncio.run(
                publish_all(
                    host="127.0.0.1",
                    port=broker.port,
                    messages=flooding,
                    rate=10_000,
                    client_id=login[0],
                    login=login,
                )
            )
            elapsed.append(time.monotonic() - started)

        thread = threading.Thread(target=flooder)
        thread.start()
        background.start()
        thread.join(60)
        background.finish(60)
        assert elapsed, "the flooder did not finish"
        assert flood / elapsed[0] >= 5_000, f"only {flood / elapsed[0]:.0f} msg/s"

        def flooder_rows() -> int:
            return stored_count(influx.port, where="\"device\" = 's-00001'")

        def settled() -> bool:
            limited = gw.metric("guardian_rejected_total", 'reason="rate_limited"')
            return (
                stored_count(influx.port) - flooder_rows() >= len(normal)
                and flooder_rows() + limited >= flood
            )

        wait_for(settled, 60, message="every message stored or counted", diagnose=gw.metrics)
        time.sleep(1.0)
        seqs = stored_seqs(influx.port)
        flood_seqs = seqs.pop("s-00001", [])
        assert seqs == expected_seqs(normal), "the other devices lost or doubled readings"
        limited = gw.metric("guardian_rejected_total", 'reason="rate_limited"')
        assert len(flood_seqs) + limited == flood
        assert len(set(flood_seqs)) == len(flood_seqs), "a flooder's reading stored twice"
        assert 1000 <= len(flood_seqs) <= 1000 + 2 * (elapsed[0] + 10), (len(flood_seqs), elapsed)
        with sqlite3.connect(tmp_path / "gw" / "spool.sqlite3") as db:
            kept = db.execute("SELECT topic FROM quarantine WHERE reason = 'rate_limited'").fetchall()
        assert kept and all(topic == f"{S}/telemetry" for (topic,) in kept)
        assert gw.health()[0] == 200
    finally:
        gw.stop()
