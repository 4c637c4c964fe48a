"""InfluxDB stopped for 60 s under load: /healthz says so, the spool holds a ~20,000-reading backlog, and
after the restart every reading arrives exactly once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gateway.ops import services
from simulators import estate
from tests.battery.common import Publisher, all_arrive
from tests.integration.test_ingest import _gateway, numbered
from tests.support import stored_count, wait_for

OUTAGE = 60.0


def test_influxdb_down_60s_with_20k_backlog_then_exactly_once(
    tmp_path: Path,
    registry_file: Path,
    registry_dict: dict[str, Any],
    broker: services.ChildServer,
    influx: services.ChildServer,
) -> None:
    """22,000 readings (100 devices x 220) at 400 msg/s (55 s); InfluxDB is stopped once 1,000 are stored,
    for 60 s, so about 21,000 wait in the spool; /healthz is polled every second meanwhile."""
    gw = _gateway(tmp_path, registry_file, broker, influx)
    gw.start()
    messages = numbered(estate.sensor_ids(registry_dict), 220)
    publisher = Publisher(broker, messages, rate=400)
    publisher.start()
    try:
        wait_for(lambda: stored_count(influx.port) >= 1000, 30, message="first rows")
        influx.stop()
        started = time.monotonic()
        reported: list[tuple[int, bool | None, int]] = []
        while time.monotonic() - started < OUTAGE:
            status, body = gw.health()
            reported.append((status, body.get("influx", {}).get("ok"), body.get("spool", {}).get("depth", 0)))
            assert gw.proc is not None and gw.proc.poll() is None, f"the gateway died: {gw.log_tail()}"
            time.sleep(1)
        down = [r for r in reported if r[0] == 503 and r[1] is False]
        assert len(down) >= len(reported) - 15, f"InfluxDB down not reported: {reported}"
        assert reported[-1][:2] == (503, False), reported[-1]
        assert max(depth for *_, depth in reported) >= 15_000, f"backlog too small: {reported[-5:]}"
        assert all(depth > 0 for *_, depth in down), "spool depth 0 while InfluxDB is down"
        publisher.finish(30)

        influx.start()
        services.wait_influx_ready(influx.port)
        all_arrive(gw, influx.port, messages, 120, "all rows after recovery")
        wait_for(lambda: gw.health()[0] == 200, 30, message="healthy again")
        assert gw.health()[1]["spool"]["depth"] == 0
    finally:
        gw.stop()
