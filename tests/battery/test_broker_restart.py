"""Mosquitto restarted (persistence on) while messages wait for the gateway's persistent session."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from gateway.ops import services
from simulators import estate
from tests.battery.common import all_arrive, publish
from tests.integration.test_ingest import _gateway, numbered
from tests.support import stored_count, wait_for


def test_broker_restart_with_queued_messages_loses_nothing(
    tmp_path: Path,
    registry_file: Path,
    registry_dict: dict[str, Any],
    broker: services.ChildServer,
    influx: services.ChildServer,
) -> None:
    """2,000 readings (100 devices x 20) stored normally; the gateway is frozen (SIGSTOP), 8,000 more are
    published and queued (or in flight) for its session; Mosquitto is stopped, which drops the gateway's
    link, and started again from its persistence file; 5,000 more are published while the gateway is still
    disconnected; then it is resumed (SIGCONT), reconnects and resumes its session."""
    gw = _gateway(tmp_path, registry_file, broker, influx)
    gw.start()
    assert gw.proc is not None
    messages = numbered(estate.sensor_ids(registry_dict), 150)  # seq-major: 100 messages per seq
    first, queued, later = messages[:2000], messages[2000:10_000], messages[10_000:]
    try:
        publish(broker, first)
        wait_for(lambda: stored_count(influx.port) >= len(first), 30, message="the first readings")
        gw.proc.send_signal(signal.SIGSTOP)
        try:
            publish(broker, queued)
            broker.stop()
            assert (broker.directory / "mosquitto.db").stat().st_size > 0, "Mosquitto saved no persistence"
            broker.start()
            publish(broker, later)  # queued for the session Mosquitto restored from its persistence file
            assert stored_count(influx.port) == len(first), "the frozen gateway stored something"
        finally:
            gw.proc.send_signal(signal.SIGCONT)
        all_arrive(gw, influx.port, messages, 60, "every reading after the broker restart")
        assert "session present: True" in gw.log_tail(), "the broker did not keep the gateway's session"
        assert gw.metric("guardian_mqtt_connections") >= 2
        status, body = gw.health()
        assert status == 200 and body["mqtt"]["ok"], body
    finally:
        gw.stop()
