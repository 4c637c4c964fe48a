"""A district instance run as guardian-instance@gw-1.service runs it: `guardian run --instance gw-1` with the
NATS servers in the environment, under a real NOTIFY_SOCKET: READY once it has joined, watchdog pings while
its membership rounds go on, its partitions taken under its unit's name, STOPPING and a clean exit on SIGTERM.
Real single-node NATS with JetStream, real InfluxDB."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from gateway.ops import services
from gateway.ops.nats_cluster import NatsCluster
from tests.district.rig import LEASE_TTL, PARTITIONS, write_registries
from tests.support import ROOT


def test_an_instance_as_its_unit_runs_it_tells_systemd(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    write_registries(registry, households=1)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(tmp_path / "notify"))
    listener.settimeout(60)
    with NatsCluster(tmp_path / "nats", size=1) as cluster, services.influxd(tmp_path / "influxdb") as influx:
        services.wait_influx_ready(influx.port)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDIAN_")}
        env.update(
            GUARDIAN_REGISTRY=str(registry),
            GUARDIAN_DATA_DIR=str(tmp_path / "gw"),
            GUARDIAN_INFLUX__URL=f"http://127.0.0.1:{influx.port}",
            GUARDIAN_CLUSTER__SERVERS=json.dumps(cluster.urls),
            GUARDIAN_CLUSTER__PARTITIONS=str(PARTITIONS),
            GUARDIAN_CLUSTER__LEASE_TTL=str(LEASE_TTL),
            GUARDIAN_CLUSTER__REPLICAS="1",  # one node
            NOTIFY_SOCKET=str(tmp_path / "notify"),
            WATCHDOG_USEC="3000000",
        )
        log = (tmp_path / "instance.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--instance", "gw-1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        try:
            first = listener.recv(4096).decode()
            assert first.startswith("READY=1\n"), first
            deadline = time.monotonic() + 30
            pings: list[str] = []
            while time.monotonic() < deadline:  # pings every second; its share grows to every partition
                pings.append(listener.recv(4096).decode())
                if f"STATUS={PARTITIONS} of {PARTITIONS} partitions" in pings[-1]:
                    break
            assert all("WATCHDOG=1" in p for p in pings) and f"{PARTITIONS} of {PARTITIONS}" in pings[-1], (
                pings
            )
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
            left = []
            listener.settimeout(1)
            while True:
                try:
                    left.append(listener.recv(4096).decode())
                except TimeoutError:
                    break
            assert left[-1] == "STOPPING=1", left
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
            listener.close()
        text = (tmp_path / "instance.log").read_text()
        assert "instance gw-1:" in text, text[-2000:]
