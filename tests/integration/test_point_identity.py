"""Every accepted message is one point, whatever its clock says (docs/storage.md, "A point's identity").

Driven through the real Mosquitto and InfluxDB as field devices behave: a detector whose clock ticks in
whole seconds, one with no clock at all, one uploading the hour it buffered through an outage, a door that
six people pass in one second, a device that retries its own publish, and one that reboots and starts its
`seq` again. Each case failed before the point time was made from the message's identity.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from simulators import estate
from simulators.fleet import publish_all
from tests.support import (
    GatewayProcess,
    influx_query,
    simulator_login,
    stored_count,
    wait_for,
)

SITE = "t1"


def _publish(broker, messages: list[tuple[str, bytes]]) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(
        publish_all(host="127.0.0.1", port=broker.port, login=simulator_login(broker), messages=messages)
    )


def _reading(device: str, seq: int, ts: float | None, co: float = 1.0) -> tuple[str, bytes]:
    body: dict = {"seq": seq, "co_ppm": co}
    if ts is not None:
        body["ts"] = ts
    return f"guardian/{SITE}/sensor/{device}/telemetry", msgspec.json.encode(body)


def _count(port: int, device: str) -> int:
    return stored_count(port, where=f"\"device\" = '{device}'")


def test_every_message_is_its_own_point_whatever_its_clock(
    tmp_path: Path, registry_file: Path, registry_dict: dict, broker, influx
) -> None:  # type: ignore[no-untyped-def]
    gw = GatewayProcess.against(broker, influx, registry=registry_file, data_dir=tmp_path / "gw")
    gw.start()
    try:
        sensors = estate.sensor_ids(registry_dict)
        door = estate.door_ids(registry_dict)[0]
        whole_second = float(int(time.time()) - 5)
        hour_ago = time.time() - 3600
        one_second_clock = [_reading(sensors[0], seq, whole_second) for seq in range(10)]
        no_clock = [_reading(sensors[1], seq, None) for seq in range(200)]
        buffered = [_reading(sensors[2], seq, hour_ago + seq * 10.0) for seq in range(120)]
        passages = [
            (
                f"guardian/{SITE}/door/{door}/event",
                msgspec.json.encode(
                    {
                        "seq": seq,
                        "ts": whole_second,
                        "event": "access_granted",
                        "person": f"p-{seq}",
                        "method": "face",
                        "direction": "in",
                    }
                ),
            )
            for seq in range(6)
        ]
        # a reboot: seq starts again at 0 one minute later, the clock still in whole seconds
        rebooted = [_reading(sensors[3], seq, whole_second - 60 + seq) for seq in range(5)]
        rebooted += [_reading(sensors[3], seq, whole_second + seq) for seq in range(5)]
        _publish(broker, one_second_clock + no_clock + buffered + passages + rebooted)

        wait_for(lambda: _count(influx.port, sensors[1]) >= 200, 30, 0.3, "the clockless burst")
        wait_for(lambda: _count(influx.port, sensors[2]) >= 120, 30, 0.3, "the buffered upload")
        wait_for(lambda: stored_count(influx.port, "door_event") >= 6, 30, 0.3, "six passages")
        time.sleep(1.0)  # anything doubled would have landed by now
        assert _count(influx.port, sensors[0]) == 10
        assert _count(influx.port, sensors[1]) == 200
        assert _count(influx.port, sensors[2]) == 120
        assert _count(influx.port, sensors[3]) == 10
        assert stored_count(influx.port, "door_event") == 6
        people = influx_query(influx.port, 'SELECT "person" FROM "door"."door_event"')
        assert sorted(v[1] for v in people[0]["values"]) == [f"p-{i}" for i in range(6)]

        # the buffered hour is filed when it was measured, not when it arrived, and counted as late
        first = influx_query(
            influx.port,
            f'SELECT "seq" FROM "sensor_reading" WHERE "device" = \'{sensors[2]}\' ORDER BY time LIMIT 1',
        )
        assert first
        (stamp, seq) = first[0]["values"][0]
        assert seq == 0
        first_time = _rfc3339(stamp)
        assert abs(first_time - hour_ago) < 0.002, (first_time, hour_ago)
        assert gw.metric("guardian_late_total") == 120
        assert gw.metric("guardian_clock_skew_total") == 0
    finally:
        gw.stop()


def test_a_retried_publish_is_stored_once_and_a_new_message_is_not_taken_for_one(
    tmp_path: Path, registry_file: Path, registry_dict: dict, broker, influx
) -> None:  # type: ignore[no-untyped-def]
    """A device whose PUBACK was lost publishes the same message again; the broker forwards it as a new
    message. With or without device time it is the same point. A heartbeat status repeats on purpose and is
    not a retry."""
    gw = GatewayProcess.against(broker, influx, registry=registry_file, data_dir=tmp_path / "gw")
    gw.start()
    try:
        sensors = estate.sensor_ids(registry_dict)
        with_clock = [_reading(sensors[0], seq, time.time() - 10 + seq) for seq in range(20)]
        without = [_reading(sensors[1], seq, None) for seq in range(20)]
        _publish(broker, with_clock + without)
        _publish(broker, with_clock[5:10] + without[5:10])  # the retries, a moment later
        wait_for(lambda: _count(influx.port, sensors[1]) >= 20, 30, 0.3, "readings")
        time.sleep(1.0)
        assert _count(influx.port, sensors[0]) == 20
        assert _count(influx.port, sensors[1]) == 20
        assert gw.metric("guardian_redelivered_total") == 10
        assert gw.metric("guardian_accepted_total", 'kind="reading"') == 40

        beat = (f"guardian/{SITE}/sensor/{sensors[2]}/status", b'{"online": true}')
        _publish(broker, [beat])
        time.sleep(0.3)
        _publish(broker, [beat])
        wait_for(
            lambda: gw.metric("guardian_accepted_total", 'kind="status"') >= 2, 20, 0.2, "both heartbeats"
        )
    finally:
        gw.stop()


def _rfc3339(stamp: str) -> float:
    """InfluxDB's RFC 3339 time with up to nine decimals, as UNIX seconds."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    whole = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return whole + (float("0." + frac) if frac else 0.0)
