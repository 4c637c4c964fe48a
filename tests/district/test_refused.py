"""A point the store refuses does not stall its partition: it is kept in `GUARDIAN_REJECTED` with the reason,
and its neighbours (here the alarm the same readings raise) are written.

InfluxDB 1.x refuses a point whose field has another type in the same shard ("field type conflict", 400), as
it would after someone wrote by hand into the database, or after a schema change between releases. Real
NATS, real InfluxDB, one instance as a real process.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from gateway.district.streams import REJECTED
from gateway.ops import services
from gateway.ops.nats_cluster import NatsCluster
from simulators import scenarios as sc
from tests.district.rig import Instance, lag, owners, publish, status, wait, write_registries
from tests.support import influx_query


@pytest.fixture
def district(tmp_path: Path) -> Iterator[tuple[NatsCluster, services.ChildServer, Path]]:
    cluster = NatsCluster(tmp_path / "nats", size=1)
    influx = services.influxd(tmp_path / "influxdb")
    registry = tmp_path / "registry"
    write_registries(registry, households=2)
    with cluster, influx:
        services.wait_influx_ready(influx.port)
        yield cluster, influx, registry


def _rejected(urls: list[str]) -> list[dict[str, str]]:
    """The headers of every message kept in GUARDIAN_REJECTED."""

    async def go() -> list[dict[str, str]]:
        nc = await nats.connect(servers=urls)
        js = nc.jetstream()
        try:
            info = await js.stream_info(REJECTED)
            out: list[dict[str, str]] = []
            if not info.state.messages:
                return out
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                msg = await js.get_msg(REJECTED, seq)
                out.append(dict(msg.headers or {}))
            return out
        finally:
            await nc.close()

    return asyncio.run(go())


def test_a_refused_point_is_kept_with_its_reason_and_the_partition_goes_on(district, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster, influx, registry = district
    gw = Instance(
        "gw-a", cluster, registry, influx.port, tmp_path / "gw-a", extra={"GUARDIAN_CLUSTER__REPLICAS": "1"}
    )
    gw.start()
    try:
        wait(lambda: set(owners(gw).values()) == {"gw-a"}, 60, "gw-a owns every partition", gw.tail)
        t0 = time.time() - 3600
        # `seq` made a string in this shard by hand: every reading's line (seq an integer) now conflicts
        poison = f'sensor_reading,site=c1,device=s-00001 seq="by hand" {int(t0 * 1e9)}'.encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{influx.port}/write?db=guardian&rp=raw", data=poison, method="POST"
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 204
        # 150 ppm of CO for 25 minutes at one detector (EN 50291: an alarm within 10-40 minutes)
        feed = sc.readings(site="c1", device="s-00002", start=t0 + 60, end=t0 + 60 + 1500,
                           co=lambda t: 150.0, interval=(10.0, 10.0), noise=0.0, seq0=1)  # fmt: skip
        publish(cluster.urls, feed)

        def refused() -> list[dict[str, str]]:
            return [h for h in _rejected(cluster.urls) if h.get("Guardian-Reason") == "storage_rejected"]

        wait(lambda: len(refused()) >= len(feed), 60, "every refused reading kept with its reason", gw.tail)
        kept = refused()
        assert len(kept) == len(feed)  # once each, although the bisecting wrote some batches more than once
        assert all("field type conflict" in h["Guardian-Detail"] for h in kept), kept[0]
        # the alarm those readings raised is written (another measurement, another shard): nothing held back
        wait(
            lambda: influx_query(influx.port, """SELECT "alarm_id" FROM "events"."alarm" WHERE "transition" = 'raised' AND "rule" =~ /^CO-/"""),
            60,
            "the CO alarm stored",
            gw.tail,
        )  # fmt: skip
        # and the partition is not stuck behind the refused points
        wait(lambda: lag(status(gw)) == 0, 30, "no lag in the status", lambda: str(status(gw)))
        assert "not stored" in gw.tail()
    finally:
        gw.stop()
