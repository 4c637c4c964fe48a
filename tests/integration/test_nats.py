"""A district deployment's broker: the gateway and the devices speak MQTT 3.1.1 to NATS, readings are stored."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from gateway.ops import services
from simulators import estate
from simulators.fleet import publish_all
from tests.integration.test_ingest import numbered
from tests.support import GatewayProcess, stored_count, stored_seqs, wait_for

USERS = {"guardian-gateway": "gateway-secret-0451", "guardian-load": "simulator-secret-0451"}


def test_gateway_at_protocol_4_stores_what_devices_publish_to_nats(
    tmp_path: Path, registry_file: Path, registry_dict: dict, influx: services.ChildServer
) -> None:
    with services.nats_mqtt(tmp_path / "nats", users=USERS) as nats:
        gw = GatewayProcess(
            registry=registry_file,
            data_dir=tmp_path / "gw",
            mqtt_port=nats.port,
            influx_port=influx.port,
            extra_env={
                "GUARDIAN_MQTT__PROTOCOL": "4",
                "GUARDIAN_MQTT__USERNAME": "guardian-gateway",
                "GUARDIAN_MQTT__PASSWORD": USERS["guardian-gateway"],
            },
        )
        gw.start()
        try:
            devices = estate.sensor_ids(registry_dict)[:20]
            login = ("guardian-load", USERS["guardian-load"])
            messages = numbered(devices, 50)
            asyncio.run(
                publish_all(host="127.0.0.1", port=nats.port, login=login, messages=messages, protocol=4)
            )
            wait_for(
                lambda: stored_count(influx.port) >= 1000, 60, message="1,000 rows", diagnose=gw.log_tail
            )
            time.sleep(1.0)
            assert stored_count(influx.port) == 1000
            assert all(v == list(range(50)) for v in stored_seqs(influx.port).values())
        finally:
            gw.stop()
