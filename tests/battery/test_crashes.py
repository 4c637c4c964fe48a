"""Three SIGKILLs of the gateway while a publisher keeps sending: after the last restart, exactly once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec

from gateway.ops import services
from simulators import estate
from tests.battery.common import Publisher, all_arrive
from tests.integration.test_ingest import _gateway, numbered
from tests.support import stored_count, wait_for


def test_three_sigkills_under_load_lose_nothing_and_store_nothing_twice(
    tmp_path: Path,
    registry_file: Path,
    registry_dict: dict[str, Any],
    broker: services.ChildServer,
    influx: services.ChildServer,
) -> None:
    """30,000 readings (100 devices x 300; half without device time, so a duplicate would be a second row)
    published at 2,500 msg/s (12 s); the gateway is SIGKILLed when 10 %, 25 % and 40 % are stored, each
    time while the publisher is still sending, and restarted 0.5 s later."""
    gw = _gateway(tmp_path, registry_file, broker, influx)
    gw.start()
    devices = estate.sensor_ids(registry_dict)
    messages = numbered(devices[:50], 300, with_ts=True) + numbered(devices[50:], 300, with_ts=False)
    messages.sort(key=lambda m: msgspec.json.decode(m[1])["seq"])
    total = len(messages)
    publisher = Publisher(broker, messages, rate=2500)
    publisher.start()
    try:
        for share in (0.10, 0.25, 0.40):
            wait_for(
                lambda share=share: stored_count(influx.port) >= total * share,
                60,
                0.05,
                f"{share:.0%} stored",
                diagnose=gw.log_tail,
            )
            assert publisher.is_alive(), "the publisher finished before the kill: not under load"
            gw.kill()
            time.sleep(0.5)  # the broker queues for the persistent session meanwhile
            gw.start()
        publisher.finish(90)
        all_arrive(gw, influx.port, messages, 90, f"{total} rows")
        assert gw.log_tail().count("gateway starting") == 4
    finally:
        gw.stop()
