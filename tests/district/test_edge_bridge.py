"""A site whose devices speak MQTT 5 keeps a Mosquitto at its edge, bridged into the district's NATS (which
speaks MQTT 3.1.1): the devices' readings reach the partition stream and are stored once each, and what
they publish while the district is unreachable is queued by the edge and arrives when it is back.

Real Mosquitto (the bridge as docs/deploying.md configures it), real NATS, real InfluxDB, one instance."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.ops import services
from gateway.ops.broker_access import GATEWAY, BrokerAccess
from gateway.ops.nats_access import NatsAccess
from gateway.ops.nats_cluster import NatsCluster
from simulators import estate
from simulators import scenarios as sc
from simulators.fleet import publish_all
from tests.district.rig import Instance, owners, stored, wait

ROOT = Path(__file__).resolve().parents[2]
BRIDGE = """\
# the district, as an MQTT 3.1.1 bridge of this site's topics (docs/deploying.md)
connection guardian-district
address 127.0.0.1:{port}
bridge_protocol_version mqttv311
try_private false
notifications false
cleansession false
remote_clientid edge-c1
remote_username edge-c1
remote_password {password}
topic guardian/c1/# out 1
"""


@pytest.fixture
def district(tmp_path: Path) -> Iterator[tuple[NatsCluster, services.ChildServer, Path]]:
    """The district locked down as deployed: `guardian devices provision --edges --nats`, the nodes
    including its users; the instance logs in as the gateway, the bridge as the site's edge."""
    registry = tmp_path / "registry"  # one community: on one NATS, device ids are user names, unique
    registry.mkdir()
    reg = estate.small_estate(site="c1", buildings=1, units=1, households_per_unit=2)
    (registry / "c1.yaml").write_text(estate.dump(reg))
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "devices", "--registry", str(registry), "--dir", str(tmp_path / "access"),
         "provision", "--edges", "--nats"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    cluster = NatsCluster(
        tmp_path / "nats", size=1, auth=NatsAccess(BrokerAccess(tmp_path / "access")).auth_file
    )
    influx = services.influxd(tmp_path / "influxdb")
    with cluster, influx:
        services.wait_influx_ready(influx.port)
        yield cluster, influx, registry


def _publish_v5(port: int, feed: list[dict]) -> None:  # type: ignore[type-arg]
    pairs = [(m["topic"], json.dumps(m["payload"]).encode()) for m in feed]
    asyncio.run(publish_all(host="127.0.0.1", port=port, messages=pairs, client_id="dev-c1", protocol=5))


def test_mqtt5_devices_behind_an_edge_mosquitto_are_stored_once_through_a_district_outage(
    district, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    cluster, influx, registry = district
    access = BrokerAccess(tmp_path / "access")
    login = {
        "GUARDIAN_CLUSTER__REPLICAS": "1",
        "GUARDIAN_CLUSTER__USER": GATEWAY,
        "GUARDIAN_CLUSTER__PASSWORD": access.login(GATEWAY)[1],
    }
    gw = Instance("gw-e", cluster, registry, influx.port, tmp_path / "gw-e", extra=login)
    gw.start()
    bridge = BRIDGE.format(port=cluster.mqtt_ports[0], password=access.login("edge-c1")[1])
    edge = services.mosquitto(tmp_path / "edge", extra=bridge)
    try:
        wait(lambda: set(owners(gw).values()) == {"gw-e"}, 60, "gw-e owns every partition", gw.tail)
        edge.start()
        t0 = time.time() - 3600
        feed = sc.readings(site="c1", device="s-00001", start=t0, end=t0 + 200, gas=lambda t: 0.0,
                           co=lambda t: 0.0, interval=(5.0, 5.0), noise=0.0, seq0=1)  # fmt: skip
        first, rest = feed[:20], feed[20:]
        _publish_v5(edge.port, first)
        wait(lambda: stored(influx.port).get(("c1", "s-00001")) == list(range(1, 21)), 60,
             "the bridged readings stored", lambda: edge.log.read_text()[-2000:])  # fmt: skip

        # the district goes away (its only node here); the devices go on publishing to their edge
        node = cluster.nodes[0]
        node.stop()
        _publish_v5(edge.port, rest)
        node.start()
        cluster.wait_ready()
        want = [m["payload"]["seq"] for m in feed]
        wait(lambda: stored(influx.port).get(("c1", "s-00001")) == want, 120,
             "what the edge queued arrives, once each", lambda: edge.log.read_text()[-2000:] + gw.tail())  # fmt: skip
    finally:
        edge.stop()
        gw.stop()
