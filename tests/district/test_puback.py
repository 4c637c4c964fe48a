"""What a NATS MQTT PUBACK is worth to a device (docs/deploying.md, "PUBACK is not storage").

NATS PUBACKs a QoS 1 PUBLISH once its own `$MQTT_msgs` stream has the message; the partition stream gets
it as a plain publish nobody waits on. This kills the node leading a partition stream (with `$MQTT_msgs`
led elsewhere, so NATS keeps answering) while a device publishes to another node, and checks that
readings were PUBACKed and never stored. If a NATS upgrade ties the PUBACK to the partition stream, this
fails, and the documented window (and the advice built on it) must be revisited.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from benchmarks.puback import PARTITIONS, SITE, leader_of, marks_in, mqtt_retry, puback, publish
from gateway.district import streams
from gateway.district.partitions import partition_of, stream_name
from gateway.ops.nats_cluster import NatsCluster

MQTT_MSGS = "$MQTT_msgs"


async def _apart(js: JetStreamContext, nc: Client, name: str) -> int:
    """The partition stream's leader, once `$MQTT_msgs` is led by another node (stepped down until so)."""
    for _ in range(20):
        leader = await leader_of(js, name)
        if await leader_of(js, MQTT_MSGS) != leader:
            return leader
        await nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{MQTT_MSGS}", b"", timeout=5)
        await asyncio.sleep(1.0)
    raise AssertionError("$MQTT_msgs kept its leader on the partition stream's node")


async def _run(folder: Path) -> tuple[int, int, int]:
    cl = NatsCluster(folder)
    cl.start()
    try:
        nc = await nats.connect(servers=cl.urls, max_reconnect_attempts=-1, reconnect_time_wait=0.5)
        js = nc.jetstream(timeout=5)
        await streams.ensure(js, [SITE], partitions=PARTITIONS, replicas=3, retention_days=1, ttl=5)
        name = stream_name(partition_of(SITE, PARTITIONS))
        r, w = await mqtt_retry(cl.mqtt_ports[0], "warm-up")  # makes the $MQTT_ streams
        publish(w, 0, 1)
        await w.drain()
        await puback(r)
        w.close()
        leader = await _apart(js, nc, name)
        msgs_leader = await leader_of(js, MQTT_MSGS)
        device = next(n for n in range(3) if n not in (leader, msgs_leader))
        r, w = await mqtt_retry(cl.mqtt_ports[device], "device")
        acked: list[int] = []
        mark, start, killed = 0, time.monotonic(), False
        while time.monotonic() - start < 4.0:
            if not killed and time.monotonic() - start > 0.5:
                cl.nodes[leader].kill()
                killed = True
            mark += 1
            publish(w, mark, mark % 60000 + 1)
            await w.drain()
            await asyncio.wait_for(puback(r), 10)
            acked.append(mark)
        w.close()
        for _ in range(60):  # the survivors elect a leader for the partition stream
            try:
                if (await js.stream_info(name)).cluster.leader:  # type: ignore[union-attr]
                    break
            except nats.errors.Error:
                pass
            await asyncio.sleep(0.5)
        got = await marks_in(js, name, 1)
        await nc.close()
        return len(acked), sum(1 for m in acked if m not in got), sum(1 for m in acked if m in got)
    finally:
        cl.stop()


def test_a_nats_puback_does_not_mean_the_partition_stream_has_the_reading(tmp_path: Path) -> None:
    acked, lost, kept = asyncio.run(_run(tmp_path / "nats"))
    assert kept > 0, "readings before the kill reach the stream"
    assert lost > 0, (
        f"all {acked} PUBACKed readings were stored through the stream leader's loss: NATS now ties its "
        "PUBACK to the partition stream; revisit docs/deploying.md 'PUBACK is not storage'"
    )
