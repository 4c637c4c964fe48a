"""The district tier on this machine: zero-loss ingest through a 3-node NATS cluster with 1, 2 and 3
gateway instances, beside NATS's own ceiling measured in the same run; failover time; hand-over replay rate.

- NATS ceiling: the same publisher (JetStream publishes, acknowledged by the R3 stream, `WINDOW` in
  flight) into the partition streams with no gateway running: what the cluster takes on these cores.
- ingest: the stream pre-filled, then N instances started; rate = messages / (time until every message is
  in InfluxDB, counted per device, from the first instance's start). It includes the instances' start-up,
  which is what a replay after an outage costs.
- failover: SIGKILL the instance that owns partition 0 while it runs; time until `guardian cluster status`
  shows every partition owned by the survivors (lease TTL 5 s here, 10 s by default).
Everything shares two cores with the NATS nodes and InfluxDB: read the ratios, not the absolute figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import nats

from gateway.district.partitions import subject_of
from gateway.ops import services
from gateway.ops.nats_cluster import NatsCluster
from tests.district.rig import SITES, Instance, owners, stored, wait, write_registries
from tests.support import influx_query

N = int(os.environ.get("BENCH_DISTRICT_MESSAGES", "30000"))
WINDOW = 512
DEVICES = 20


def _messages(n: int, t0: float) -> list[tuple[str, bytes]]:
    out = []
    per = n // (len(SITES) * DEVICES)
    for k in range(per):
        for site in SITES:
            for d in range(1, DEVICES + 1):
                topic = f"guardian/{site}/sensor/s-{d:05d}/telemetry"
                body = {
                    "seq": k,
                    "ts": round(t0 + k * 5, 3),
                    "co_ppm": 0.0,
                    "gas_lel": 0.0,
                    "battery_pct": 90.0,
                }
                out.append((subject_of(topic), json.dumps(body).encode()))
    return out


async def _publish(urls: list[str], messages: list[tuple[str, bytes]]) -> float:
    """msg/s, every publish acknowledged by its stream."""
    nc = await nats.connect(servers=urls)
    js = nc.jetstream(timeout=30.0)
    started = time.perf_counter()
    pending: list[asyncio.Future[object]] = []
    for subject, body in messages:
        pending.append(asyncio.ensure_future(js.publish(subject, body)))
        if len(pending) >= WINDOW:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    took = time.perf_counter() - started
    await nc.close()
    return len(messages) / took


def _round(tmp: Path, instances: int) -> tuple[float, float, int]:
    """(NATS ceiling msg/s, ingest msg/s with `instances`, lost or doubled)."""
    registry = tmp / "registry"
    write_registries(registry, households=DEVICES)
    cluster = NatsCluster(tmp / "nats")
    influx = services.influxd(tmp / "influxdb")
    with cluster, influx:
        services.wait_influx_ready(influx.port)
        messages = _messages(N, time.time() - 86400)
        # the streams must exist before publishing: one instance makes them and stops
        maker = Instance("maker", cluster, registry, influx.port, tmp / "maker")
        maker.start()
        wait(lambda: set(owners(maker).values()) == {"maker"}, 90, "streams made")
        maker.stop()
        ceiling = asyncio.run(_publish(cluster.urls, messages))
        started = time.monotonic()
        gws = [Instance(f"gw-{i}", cluster, registry, influx.port, tmp / f"gw-{i}") for i in range(instances)]
        for g in gws:
            g.start()
        try:
            want = len(messages) // (len(SITES) * DEVICES)

            def done() -> bool:
                got = stored(influx.port)
                return len(got) == len(SITES) * DEVICES and all(len(v) >= want for v in got.values())

            wait(done, 600, "every message stored")
            rate = len(messages) / (time.monotonic() - started)
            got = stored(influx.port)
            bad = sum(abs(len(v) - want) + (len(v) - len(set(v))) for v in got.values())
        finally:
            for g in gws:
                g.stop()
    return ceiling, rate, bad


def _failover(tmp: Path) -> float:
    registry = tmp / "registry"
    write_registries(registry, households=4)
    cluster = NatsCluster(tmp / "nats")
    influx = services.influxd(tmp / "influxdb")
    with cluster, influx:
        services.wait_influx_ready(influx.port)
        gws = [Instance(f"gw-{i}", cluster, registry, influx.port, tmp / f"gw-{i}") for i in range(3)]
        for g in gws:
            g.start()
        try:
            wait(lambda: len(set(owners(gws[0]).values()) - {None}) == 3, 90, "three owners")
            victim = next(g for g in gws if owners(g).get(0) == g.name)
            victim.kill()
            killed = time.monotonic()
            alive = gws[0] if victim is not gws[0] else gws[1]
            wait(
                lambda: victim.name not in owners(alive).values() and None not in owners(alive).values(),
                60,
                "",
            )
            return time.monotonic() - killed
        finally:
            for g in gws:
                g.stop()


MEMORY_SITES = 8
"""100,000 detectors as 8 communities of 12,500 (25 buildings x 5 units x 100 households)."""


def _memory(tmp: Path) -> tuple[int, float, float, float]:
    """(devices, RSS MB once every partition is owned, RSS MB after one reading per device, replay msg/s)
    of one ingest-only instance (`guardian run --cluster`: no API, no notifier) on a one-node NATS."""
    from benchmarks.run import rss_mb
    from simulators import estate

    registry = tmp / "registry"
    registry.mkdir()
    devices: list[str] = []
    for i in range(1, MEMORY_SITES + 1):
        site = f"m{i}"
        reg = estate.small_estate(site=site, buildings=25, units=5, households_per_unit=100)
        (registry / f"{site}.yaml").write_text(estate.dump(reg))
        devices += [f"{site}/{d}" for d in estate.sensor_ids(reg)]
    cluster = NatsCluster(tmp / "nats", size=1)
    influx = services.influxd(tmp / "influxdb")
    with cluster, influx:
        services.wait_influx_ready(influx.port)
        gw = Instance(
            "gw-m", cluster, registry, influx.port, tmp / "gw-m", extra={"GUARDIAN_CLUSTER__REPLICAS": "1"}
        )
        gw.start()
        try:
            wait(lambda: set(owners(gw).values()) == {"gw-m"}, 300, "every partition owned", gw.tail)
            assert gw.proc is not None
            time.sleep(2.0)
            idle = rss_mb(gw.proc.pid)
            t0 = time.time() - 3600
            messages = []
            for n, device in enumerate(devices):
                site, dev = device.split("/")
                body = {
                    "seq": 1,
                    "ts": round(t0 + n * 0.01, 3),
                    "co_ppm": 0.0,
                    "gas_lel": 0.0,
                    "battery_pct": 90.0,
                }
                messages.append(
                    (subject_of(f"guardian/{site}/sensor/{dev}/telemetry"), json.dumps(body).encode())
                )
            started = time.monotonic()
            asyncio.run(_publish(cluster.urls, messages))

            def count() -> int:
                rows = influx_query(influx.port, 'SELECT count("seq") FROM "raw"."sensor_reading"')
                return int(rows[0]["values"][0][1]) if rows else 0

            wait(lambda: count() >= len(messages), 600, "one reading per device stored", gw.tail)
            rate = len(messages) / (time.monotonic() - started)
            return len(devices), idle, rss_mb(gw.proc.pid), rate
        finally:
            gw.stop()


def main() -> None:
    print(f"district: {N:,} readings, {len(SITES)} sites x {DEVICES} detectors, 3 NATS nodes (R3 streams)")
    for n in (1, 2, 3):
        with tempfile.TemporaryDirectory() as d:
            ceiling, rate, bad = _round(Path(d), n)
        print(
            f"  {n} instance(s): {rate:,.0f} msg/s stored ({rate / ceiling:.2f} of NATS's {ceiling:,.0f} msg/s "
            f"publish ceiling in the same run), lost or doubled {bad}"
        )
    with tempfile.TemporaryDirectory() as d:
        took = _failover(Path(d))
    print(f"  failover (SIGKILL an owner, lease TTL 5 s): every partition owned again in {took:.1f} s")
    with tempfile.TemporaryDirectory() as d:
        devices, idle, after, rate = _memory(Path(d))
    print(
        f"  one ingest-only instance with {devices:,} detectors: RSS {idle:.0f} MB with every partition owned, "
        f"{after:.0f} MB after one reading per detector (stored at {rate:,.0f} msg/s, publishing included)"
    )


if __name__ == "__main__":
    main()
