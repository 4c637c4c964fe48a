"""`make bench`: sustained zero-loss ingest, QoS 1 in -> InfluxDB, beside the broker's own QoS 1 ceiling.

Everything runs on this machine: Mosquitto, InfluxDB, the gateway (a child process, so its CPU time can be
read from /proc) and the publisher. Figures go to stdout and to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import msgspec

from benchmarks import alert_core, estate_state, mqtt_clients, notify_latency, replay_month, store_api
from benchmarks.mqtt_clients import publish_c
from gateway import services
from simulators import estate
from simulators.fleet import publish_all
from tests.support import GatewayProcess, secured_broker, simulator_login, stored_count, wait_for

N = int(os.environ.get("BENCH_MESSAGES", "200000"))


def broker_ceiling(port: int, n: int) -> tuple[float, int]:
    """C publishers and subscriber (mosquitto_pub -l / mosquitto_sub) at QoS 1: (msg/s received, received)."""
    sub = subprocess.Popen(
        [
            "mosquitto_sub",
            "-p",
            str(port),
            "-q",
            "1",
            "-t",
            "bench/#",
            "-C",
            str(n),
            "-W",
            "120",
            "-i",
            "bench-sub",
        ],
        stdout=subprocess.PIPE,
    )
    time.sleep(0.5)
    started = time.monotonic()
    publish_c(port, n, topic="bench/x")
    assert sub.stdout is not None
    received = sum(1 for _ in sub.stdout)
    sub.wait()
    return received / (time.monotonic() - started), received


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def state_per_device(registry_file: Path, data_dir: Path) -> dict[str, float]:
    """Bytes the gateway holds per registered device for its registry, by part (tracemalloc): what the
    child hands back compiled (device index, rule model, notification directory), the line encoder, and the
    rule engine's state."""
    from alerts.engine import Engine
    from gateway.config import Settings
    from gateway.lineprotocol import PointEncoder
    from gateway.prepare import prepare_compact

    settings = Settings(registry=registry_file, data_dir=data_dir)
    gc.collect()
    tracemalloc.start()
    parts: dict[str, float] = {}
    before = 0

    def mark(name: str) -> None:
        nonlocal before
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        parts[name] = held - before
        before = held

    ready = asyncio.run(prepare_compact(settings, child_from=0))
    mark("compiled registry (index, rule model, directory)")
    encoder = PointEncoder(ready.index)
    mark("line-protocol tags")
    engine = Engine(ready.model)
    mark("rule engine state")
    tracemalloc.stop()
    devices = len(ready.index)
    del encoder, engine, ready
    return {name: held / devices for name, held in parts.items()}


def ingest(
    data_dir: Path,
    registry_file: Path,
    broker: services.ChildServer,
    influx: services.ChildServer,
    messages: list[tuple[str, bytes]],
) -> tuple[float, int, float, float, float, float]:
    """(msg/s sustained, stored, seconds to publish, gateway CPU s, idle RSS MB, RSS MB after)."""
    gw = GatewayProcess.against(
        broker,
        influx,
        registry=registry_file,
        data_dir=data_dir,
    )
    gw.start(timeout=180)
    assert gw.proc is not None
    idle_rss = rss_mb(gw.proc.pid)
    cpu0 = cpu_seconds(gw.proc.pid)
    login = simulator_login(broker)
    publisher = threading.Thread(
        target=lambda: asyncio.run(
            publish_all(host="127.0.0.1", port=broker.port, messages=messages, login=login)
        )
    )
    started = time.monotonic()
    publisher.start()
    publisher.join()
    published_at = time.monotonic() - started
    wait_for(lambda: stored_count(influx.port) >= len(messages), 600, 0.5, "all rows stored")
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(gw.proc.pid) - cpu0
    rss = rss_mb(gw.proc.pid)
    stored = stored_count(influx.port)
    gw.stop()
    return len(messages) / elapsed, stored, published_at, cpu, idle_rss, rss


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="guardian-bench-"))
    # 100,000 sensors and 1,000 doors registered; every sensor publishes.
    registry = estate.small_estate(site="t1", buildings=100, units=10, households_per_unit=100)
    registry_file = tmp / "registry.yaml"
    registry_file.write_text(estate.dump(registry))
    # Traffic from 5,000 of them, 40 readings each: InfluxDB 1.x creates a series at ~10k/s, so traffic
    # spread over 100k never-seen series measures series creation (13.9k msg/s here), not ingest.
    devices = estate.sensor_ids(registry)[:5000]
    with services.mosquitto(tmp / "mq") as broker, services.influxd(tmp / "ix") as influx:
        services.wait_influx_ready(influx.port)
        ceiling, got = broker_ceiling(broker.port, N)
        print(
            f"broker QoS 1 ceiling (mosquitto_pub -l -> mosquitto_sub): {ceiling:,.0f} msg/s ({got:,} of {N:,})"
        )

        now = time.time() - 86400
        messages = [
            (
                f"guardian/t1/sensor/{d}/telemetry",
                msgspec.json.encode(
                    {
                        "seq": i,
                        "ts": now + i * 0.5 + j * 1e-4,
                        "co_ppm": 2.1,
                        "gas_lel": 0.0,
                        "battery_pct": 95.0,
                    }
                ),
            )
            for i in range(N // len(devices))
            for j, d in enumerate(devices)
        ]
        plain = ingest(tmp / "gw", registry_file, broker, influx, messages)
    rate, stored, published_at, cpu, idle_rss, rss = plain
    print(
        f"messages: {len(messages):,}  published in {published_at:.1f} s  stored: {stored:,}  lost: {len(messages) - stored}"
    )
    ratio = (
        f"{rate / ceiling:.2f} of broker ceiling"
        if got == N
        else "broker ceiling not obtained: C clients stalled"
    )
    print(f"ingest QoS 1 -> spool -> InfluxDB: {rate:,.0f} msg/s sustained ({ratio}), anonymous broker")
    print(f"gateway CPU: {cpu / len(messages) * 1e6:.1f} us/message")
    print(f"gateway RSS with 100,000 sensors registered: {idle_rss:.0f} MB idle, {rss:.0f} MB after the run")
    parts = state_per_device(registry_file, tmp / "state")
    print(
        f"state per registered device: {sum(parts.values()):.0f} bytes ("
        + ", ".join(f"{name} {b:.0f}" for name, b in parts.items())
        + ")"
    )
    started = time.monotonic()
    secured = secured_broker(tmp / "secured", registry)
    provisioned_in = time.monotonic() - started
    with secured as broker, services.influxd(tmp / "ix2") as influx:
        services.wait_influx_ready(influx.port)
        rate2, stored2, *_ = ingest(tmp / "gw2", registry_file, broker, influx, messages)
    print(
        f"same, broker with {len(secured.access.hashes()):,} accounts and the device ACL "  # type: ignore[union-attr]
        f"(provisioned in {provisioned_in:.1f} s): {rate2:,.0f} msg/s, lost {len(messages) - stored2}"
    )
    print()
    mqtt_clients.main()
    print()
    alert_core.main()
    print()
    notify_latency.main()
    print()
    replay_month.main()
    print()
    estate_state.main()
    print()
    store_api.main()
    print()


if __name__ == "__main__":
    main()
