"""A district through the loss of a gateway instance: a real 3-node NATS cluster, real InfluxDB, two
instances as real processes. SIGKILL one mid-stream: its partitions resume on the other within 30 s, every
device's readings are stored once each (0 lost, 0 duplicates), and a CO exposure running through the kill
alarms once. Freeze an owner (SIGSTOP) past its lease: when it wakes it writes nothing with the stale lease."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.ops import services
from gateway.ops.nats_cluster import NatsCluster
from simulators import scenarios as sc
from tests.district.rig import (
    LEASE_TTL,
    PARTITIONS,
    SITES,
    Instance,
    lag,
    owners,
    publish,
    status,
    stored,
    wait,
    write_registries,
)
from tests.support import influx_query

DEVICES = [f"s-{i:05d}" for i in range(1, 5)]


@pytest.fixture
def district(tmp_path: Path) -> Iterator[tuple[NatsCluster, services.ChildServer, Path]]:
    cluster = NatsCluster(tmp_path / "nats")
    influx = services.influxd(tmp_path / "influxdb")
    registry = tmp_path / "registry"
    write_registries(registry, households=len(DEVICES))
    with cluster, influx:
        services.wait_influx_ready(influx.port)
        yield cluster, influx, registry


def _instances(district, tmp_path: Path, *names: str) -> list[Instance]:  # type: ignore[no-untyped-def]
    cluster, influx, registry = district
    return [Instance(n, cluster, registry, influx.port, tmp_path / n) for n in names]


def _readings(t0: float, count: int, seq0: int = 1) -> list[dict]:  # type: ignore[type-arg]
    """`count` readings per device of every site, interleaved in time as a district's traffic is."""
    out = []
    for site in SITES:
        for dev in DEVICES:
            out += sc.readings(site=site, device=dev, start=t0, end=t0 + count * 5, gas=lambda t: 0.0,
                               co=lambda t: 0.0, interval=(5.0, 5.0), noise=0.0, seq0=seq0)  # fmt: skip
    out.sort(key=lambda m: m["payload"]["ts"])
    return out


def _expected(feed: list[dict]) -> dict[tuple[str, str], list[int]]:  # type: ignore[type-arg]
    """(site, device) -> the seqs published, sorted: what the store must hold, each once."""
    out: dict[tuple[str, str], list[int]] = {}
    for m in feed:
        parts = m["topic"].split("/")
        out.setdefault((parts[1], parts[3]), []).append(m["payload"]["seq"])
    return {k: sorted(v) for k, v in out.items()}


def test_a_killed_instance_loses_nothing_and_its_partitions_resume(district, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster, influx, _ = district
    a, b = _instances(district, tmp_path, "gw-a", "gw-b")
    a.start()
    b.start()
    try:

        def even() -> bool:  # every partition owned, half each
            split = list(owners(b).values())
            return split.count("gw-a") == split.count("gw-b") == PARTITIONS // 2

        wait(even, 60, "both instances own half the partitions", lambda: a.tail() + b.tail())
        t0 = time.time() - 3600
        messages = _readings(t0, 120)  # 6 sites x 4 detectors x 120 = 2880
        # a CO exposure at one detector, through the kill: 150 ppm for 20 minutes (EN 50291: alarm in 10-40)
        exposure = sc.readings(site="c1", device="s-00004", start=t0 + 600, end=t0 + 600 + 1500,
                               co=lambda t: 150.0, interval=(10.0, 10.0), noise=0.0, seq0=100_000)  # fmt: skip
        exposed = sc.telemetry_topic("c1", "s-00004")
        feed = sorted(
            [m for m in messages if m["topic"] != exposed] + exposure, key=lambda m: m["payload"]["ts"]
        )
        first, rest = feed[: len(feed) // 3], feed[len(feed) // 3 :]
        publish(cluster.urls, first)
        wait(lambda: sum(len(v) for v in stored(influx.port).values()) >= len(first) * 0.5, 60,
             "the first third stored", lambda: a.tail())  # fmt: skip
        # the rest streams in while gw-a dies
        sender = threading.Thread(target=publish, args=(cluster.urls, rest), kwargs={"pace": 0.02})
        sender.start()
        time.sleep(1.0)
        a.kill()
        killed = time.monotonic()
        took = wait(
            lambda: set(owners(b).values()) == {"gw-b"}, 30, "gw-a's partitions resumed on gw-b", b.tail
        )
        sender.join(120)
        assert not sender.is_alive()
        # every reading of every device once: nothing lost, nothing doubled
        expected = _expected(feed)
        wait(lambda: stored(influx.port) == expected, 60, "every reading stored once",
             lambda: f"{b.tail()}\nlag: {[r['lag'] for r in status(b)]}")  # fmt: skip
        # the exposure alarmed, once, although half of it arrived after the kill
        raised = influx_query(influx.port, """SELECT "alarm_id" FROM "events"."alarm" WHERE "transition" = 'raised' AND "site" = 'c1' AND "rule" =~ /^CO-/""")  # fmt: skip
        ids = {v[1] for s in raised for v in s["values"]}
        assert len(ids) == 1, raised
        # the status sees it too, within a heartbeat: one owner, nothing behind
        wait(lambda: lag(status(b)) == 0, 20, "no lag in the status", lambda: str(status(b)))
        assert all(r["owner"] == "gw-b" for r in status(b))
        print(f"failover: all of gw-a's partitions owned by gw-b {took:.1f} s after the kill "
              f"(lease {LEASE_TTL} s); {len(feed)} messages stored once each")  # fmt: skip
        assert time.monotonic() - killed < 200
    finally:
        a.stop()
        b.stop()


def test_a_frozen_owner_writes_nothing_with_its_stale_lease(district, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster, influx, _ = district
    a, b = _instances(district, tmp_path, "gw-a", "gw-b")
    a.start()
    wait(lambda: set(owners(a).values()) == {"gw-a"}, 60, "gw-a owns every partition", a.tail)
    b.start()
    try:
        wait(lambda: set(owners(b).values()) == {"gw-a", "gw-b"}, 60, "the share rebalanced", b.tail)
        t0 = time.time() - 1800
        publish(cluster.urls, _readings(t0, 10))
        wait(lambda: sum(len(v) for v in stored(influx.port).values()) == len(SITES) * len(DEVICES) * 10, 60,
             "the first readings stored")  # fmt: skip
        a.signal(signal.SIGSTOP)  # frozen: its leases run out while it cannot know
        wait(
            lambda: set(owners(b).values()) == {"gw-b"},
            30,
            "gw-b took over the frozen owner's partitions",
            b.tail,
        )
        publish(cluster.urls, _readings(t0 + 60, 10, seq0=11))
        a.signal(signal.SIGCONT)
        # it wakes with batches in hand and leases it believes in: it must find them expired and drop them
        wait(lambda: "lease expired; output discarded" in a.tail() or "lease lost" in a.tail(), 30,
             "the woken owner noticed its stale lease", a.tail)  # fmt: skip
        time.sleep(2 * LEASE_TTL)
        got = owners(b)
        assert list(got.values()).count("gw-a") <= PARTITIONS // 2  # it may rejoin and get its share again
        # and what came while it was frozen is stored once, by the new owner
        want = list(range(1, 21))
        wait(lambda: all(v == want for v in stored(influx.port).values()) and len(stored(influx.port)) == 24, 60,
             "both rounds of readings stored once each", b.tail)  # fmt: skip
    finally:
        a.stop()
        b.stop()


def test_devices_publish_mqtt_311_to_any_node_and_each_reading_is_stored_once(
    district, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The devices' side of the district: MQTT 3.1.1 at QoS 1 to whichever NATS node is nearest (one
    community per node here); the partition streams take each publish and an instance stores it once."""
    import asyncio
    import json

    from simulators.fleet import publish_all

    cluster, influx, _ = district
    [a] = _instances(district, tmp_path, "gw-a")
    a.start()
    try:
        wait(lambda: set(owners(a).values()) == {"gw-a"}, 60, "gw-a owns every partition", a.tail)
        t0 = time.time() - 900
        expected: dict[tuple[str, str], list[int]] = {}
        for n, site in enumerate(SITES):
            msgs = [m for m in _readings(t0, 25) if m["topic"].split("/")[1] == site]
            for m in msgs:
                expected.setdefault((site, m["topic"].split("/")[3]), []).append(m["payload"]["seq"])
            node = cluster.mqtt_ports[n % len(cluster.mqtt_ports)]
            pairs = [(m["topic"], json.dumps(m["payload"]).encode()) for m in msgs]
            asyncio.run(
                publish_all(host="127.0.0.1", port=node, messages=pairs, client_id=f"dev-{site}", protocol=4)
            )
        want = {k: sorted(v) for k, v in expected.items()}
        wait(lambda: stored(influx.port) == want, 60, "every MQTT reading stored once", a.tail)
    finally:
        a.stop()


def test_a_killed_nats_node_loses_nothing(district, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL one of the three NATS nodes mid-stream: the replicated streams keep a quorum, instances and
    publishers reconnect to the others with backoff, and every reading is stored once."""
    cluster, influx, _ = district
    a, b = _instances(district, tmp_path, "gw-a", "gw-b")
    a.start()
    b.start()
    try:
        wait(lambda: set(owners(b).values()) == {"gw-a", "gw-b"}, 60, "both instances own partitions", b.tail)
        t0 = time.time() - 3600
        feed = _readings(t0, 100)
        first, rest = feed[: len(feed) // 3], feed[len(feed) // 3 :]
        publish(cluster.urls, first)
        sender = threading.Thread(target=publish, args=(cluster.urls, rest), kwargs={"pace": 0.02})
        sender.start()
        time.sleep(1.0)
        cluster.nodes[0].kill()
        sender.join(180)
        assert not sender.is_alive()
        want = _expected(feed)
        wait(lambda: stored(influx.port) == want, 90, "every reading stored once with a node gone",
             lambda: a.tail() + b.tail())  # fmt: skip
    finally:
        a.stop()
        b.stop()


def test_a_rolling_restart_under_load_loses_nothing(district, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Three instances restarted one by one (SIGTERM, start again) while readings stream in: each hands its
    partitions over with a last snapshot, takes its share back when it returns, and nothing is lost."""
    cluster, influx, _ = district
    gws = _instances(district, tmp_path, "gw-a", "gw-b", "gw-c")
    for g in gws:
        g.start()
    try:
        wait(lambda: len(set(owners(gws[0]).values()) - {None}) == 3, 60, "three owners", gws[0].tail)
        feed = _readings(time.time() - 3600, 150)
        sender = threading.Thread(target=publish, args=(cluster.urls, feed), kwargs={"pace": 0.05})
        sender.start()
        for g in gws:
            g.stop()
            g.start()
            wait(lambda g=g: g.name in owners(g).values(), 60, f"{g.name} back with its share", g.tail)  # type: ignore[misc]
        sender.join(180)
        assert not sender.is_alive()
        want = _expected(feed)
        wait(lambda: stored(influx.port) == want, 90, "every reading stored once through the restarts",
             lambda: "".join(g.tail() for g in gws))  # fmt: skip
    finally:
        for g in gws:
            g.stop()
