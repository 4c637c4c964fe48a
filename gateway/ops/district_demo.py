"""`guardian demo --district`: a district on this machine, to see the tier work and fail over.

Three NATS nodes (JetStream, MQTT 3.1.1 on each), InfluxDB, three gateway instances
(`guardian run --cluster`), and several simulated communities, each publishing its detectors' normal life
over MQTT 3.1.1 to a different node. Every 10 s it prints `guardian cluster status`; kill an instance
(its pid is printed) and watch its partitions move. `make demo` stays the single-box demo.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from gateway.config.settings import InfluxSettings
from gateway.ops import services
from gateway.ops.influx_access import ADMIN, READER, WRITER, InfluxAccess
from gateway.ops.nats_cluster import NatsCluster
from simulators import estate

ROOT = Path(__file__).resolve().parents[2]


def _env(
    registry: Path, data: Path, influx_port: int, urls: list[str], instance: str, influx: InfluxAccess
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDIAN_")}
    env.update(
        GUARDIAN_REGISTRY=str(registry),
        GUARDIAN_DATA_DIR=str(data),
        GUARDIAN_INFLUX__URL=f"http://127.0.0.1:{influx_port}",
        GUARDIAN_INFLUX__USERNAME=WRITER,
        GUARDIAN_INFLUX__PASSWORD=influx.writer_password(),
        GUARDIAN_CLUSTER__SERVERS=json.dumps(urls),
        GUARDIAN_CLUSTER__INSTANCE=instance,
    )
    return env


def run_district_demo(
    directory: Path,
    *,
    communities: int = 6,
    households: int = 40,
    instances: int = 3,
    duration: float | None = None,
) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    registry = directory / "registry"
    registry.mkdir(exist_ok=True)
    sites = [f"community{i:02d}" for i in range(1, communities + 1)]
    for n, site in enumerate(sites):
        reg = estate.small_estate(
            site=site, buildings=2, units=2, households_per_unit=max(1, households // 4), seed=n
        )
        (registry / f"{site}.yaml").write_text(estate.dump(reg))
    cluster = NatsCluster(directory / "nats")
    influx = services.influxd(directory / "influxdb", auth=True)
    children: list[subprocess.Popen[bytes]] = []
    print(f"starting 3 NATS nodes, InfluxDB, {instances} gateway instances and {communities} communities")
    with cluster, influx:
        services.wait_influx_ready(influx.port)
        users = InfluxAccess(directory / "influxdb")  # authentication on, as on a site (docs/security.md)
        url = f"http://127.0.0.1:{influx.port}"
        users.provision(InfluxSettings.model_validate({"url": url}), ADMIN, users.create_admin(url))
        try:
            for i in range(1, instances + 1):
                name = f"gw-{i}"
                log = (directory / f"{name}.log").open("ab")
                env = _env(registry, directory / name, influx.port, cluster.urls, name, users)
                children.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "gateway", "run"], env=env, stdout=log, stderr=log, cwd=ROOT
                    )
                )
                print(f"  {name}: pid {children[-1].pid}, log {directory / f'{name}.log'}")
            for n, site in enumerate(sites):
                port = cluster.mqtt_ports[n % len(cluster.mqtt_ports)]
                log = (directory / f"{site}.devices.log").open("ab")
                argv = [
                    sys.executable,
                    "-m",
                    "gateway",
                    "simulate",
                    "live",
                    "--registry",
                    str(registry / f"{site}.yaml"),
                ]
                argv += ["--port", str(port), "--mqtt-protocol", "4", "--seed", str(n + 1)]
                children.append(subprocess.Popen(argv, stdout=log, stderr=log, cwd=ROOT))
            print(f"NATS: {', '.join(cluster.urls)}; MQTT 3.1.1 on ports {cluster.mqtt_ports}")
            print(
                f"InfluxDB: {url} (read as {READER}, password in {users.directory}/accounts/); "
                "Ctrl-C stops everything"
            )
            status_env = _env(registry, directory / "status", influx.port, cluster.urls, "status", users)
            started = time.monotonic()
            while duration is None or time.monotonic() - started < duration:
                time.sleep(10)
                done = subprocess.run(
                    [sys.executable, "-m", "gateway", "cluster", "status"],
                    env=status_env,
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                print(done.stdout or done.stderr, flush=True)
        except KeyboardInterrupt:
            pass
        finally:
            for c in children:
                with contextlib.suppress(ProcessLookupError):
                    c.terminate()
            for c in children:
                try:
                    c.wait(20)
                except subprocess.TimeoutExpired:
                    c.kill()
    return 0
