"""The district on its district store: partition workers write to a real VictoriaMetrics (which has no
databases or policies to create), every reading once, the alarm too. Real NATS, one instance."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.ops import services
from gateway.ops.nats_cluster import NatsCluster
from simulators import scenarios as sc
from tests.district.rig import Instance, owners, publish, wait, write_registries
from tests.support import vm_export


@pytest.fixture
def district(tmp_path: Path) -> Iterator[tuple[NatsCluster, services.ChildServer, Path]]:
    cluster = NatsCluster(tmp_path / "nats", size=1)
    victoria = services.victoria_metrics(tmp_path / "victoria-metrics", retention="1y")
    registry = tmp_path / "registry"
    write_registries(registry, households=2)
    with cluster, victoria:
        services.wait_victoria_ready(victoria.port)
        yield cluster, victoria, registry


def _seqs(port: int) -> dict[tuple[str, str], list[float]]:
    return {
        (s["metric"]["site"], s["metric"]["device"]): sorted(s["values"])
        for s in vm_export(port, 'sensor_reading_seq{db="guardian"}')
    }


def test_partitions_write_to_victoriametrics_once_each(district, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster, victoria, registry = district
    gw = Instance(
        "gw-v",
        cluster,
        registry,
        victoria.port,
        tmp_path / "gw-v",
        extra={"GUARDIAN_CLUSTER__REPLICAS": "1", "GUARDIAN_INFLUX__KIND": "victoriametrics",
               "GUARDIAN_INFLUX__VM_RETENTION": "365d"},
    )  # fmt: skip
    gw.start()
    try:
        wait(lambda: set(owners(gw).values()) == {"gw-v"}, 60, "gw-v owns every partition", gw.tail)
        t0 = time.time() - 3600
        feed = []
        for site in ("c1", "c4"):
            feed += sc.readings(site=site, device="s-00001", start=t0, end=t0 + 100, gas=lambda t: 0.0,
                                co=lambda t: 0.0, interval=(5.0, 5.0), noise=0.0, seq0=1)  # fmt: skip
        # 150 ppm of CO for 25 minutes (EN 50291: an alarm within 10-40 minutes)
        feed += sc.readings(site="c1", device="s-00002", start=t0, end=t0 + 1500, co=lambda t: 150.0,
                            interval=(10.0, 10.0), noise=0.0, seq0=1)  # fmt: skip
        publish(cluster.urls, feed)
        want = {}
        for m in feed:
            _, site, _, device, _ = m["topic"].split("/")
            want.setdefault((site, device), []).append(float(m["payload"]["seq"]))
        want = {k: sorted(v) for k, v in want.items()}
        wait(lambda: _seqs(victoria.port) == want, 60, "every reading stored once", gw.tail)
        wait(lambda: vm_export(victoria.port, 'alarm_alarm_id{db="guardian",site="c1",transition="raised"}') != [], 30,
             "the CO alarm stored", gw.tail)  # fmt: skip
    finally:
        gw.stop()
