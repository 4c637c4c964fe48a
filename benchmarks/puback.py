"""PUBACK versus storage: when a NATS node answers a device's MQTT 3.1.1 QoS 1 PUBLISH, is the reading
already in its partition stream? (docs/benchmarks.md, "PUBACK versus storage".)

NATS (server/mqtt.go, `mqttProcessPub`) hands the message to the subject as a plain publish, which the
partition stream picks up with nobody waiting, then stores it in its own `$MQTT_msgs` stream and waits for
that one's acknowledgement, then writes the PUBACK. So the PUBACK says "in `$MQTT_msgs`", not "in
`GUARDIAN_Pnn`". This measures what that costs, on a real 3-node cluster with R3 partition streams:

- at PUBACK: one device publishes N readings, one at a time, to each node in turn; as each PUBACK arrives
  another connection asks the stream leader for the subject's last message. Counted: how many were
  already there, and for the others how long until they were;
- device's node killed: per trial, 20 readings pipelined to one node (the stream leader's node and another
  node, alternately), SIGKILL of that node as the first PUBACK arrives, the node restarted, the stream
  read back. Counted: readings PUBACKed and never in the stream;
- stream leader killed: per trial, a device on another node publishes one at a time for 6 s and the
  partition stream's leader node is SIGKILLed after 1 s. Counted as above.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import struct
import tempfile
import time
import urllib.request
from pathlib import Path

import nats
from nats.js import JetStreamContext

from gateway.district import streams
from gateway.district.partitions import partition_of, stream_name, subject_of
from gateway.mqtt.codec import MQTT311, encode_connect, encode_publish
from gateway.ops.nats_cluster import NatsCluster

N = int(os.environ.get("BENCH_PUBACK_MESSAGES", "500"))
TRIALS = int(os.environ.get("BENCH_PUBACK_TRIALS", "50"))
LEADER_TRIALS = int(os.environ.get("BENCH_PUBACK_LEADER_TRIALS", "5"))
SITE = "c1"
TOPIC = f"guardian/{SITE}/sensor/s-00001/telemetry"
PARTITIONS = 8

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def mqtt_open(port: int, client_id: str) -> Conn:
    """A device's MQTT 3.1.1 connection (clean session), CONNACK checked."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(
        encode_connect(
            client_id=client_id,
            keepalive=30,
            clean_start=True,
            session_expiry=0,
            receive_maximum=100,
            protocol=MQTT311,
        )
    )
    await w.drain()
    ack = await asyncio.wait_for(r.readexactly(4), 15)
    if ack[0] != 0x20 or ack[3] != 0:
        raise ConnectionError(f"CONNACK {ack!r}")
    return r, w


async def mqtt_retry(port: int, client_id: str) -> Conn:
    for attempt in range(30):  # a node just restarted may refuse MQTT until its $MQTT streams answer
        try:
            return await mqtt_open(port, f"{client_id}-{attempt}")
        except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            await asyncio.sleep(0.5)
    raise ConnectionError(f"no MQTT connection on port {port}")


def publish(w: asyncio.StreamWriter, mark: int, packet_id: int) -> None:
    w.write(
        encode_publish(
            TOPIC, json.dumps({"mark": mark}).encode(), qos=1, packet_id=packet_id, protocol=MQTT311
        )
    )


async def puback(r: asyncio.StreamReader) -> int:
    b = await r.readexactly(4)
    if b[0] != 0x40:
        raise ConnectionError(f"not a PUBACK: {b!r}")
    return int(struct.unpack(">H", b[2:])[0])


async def last_mark(js: JetStreamContext, name: str) -> int:
    try:
        m = await js.get_last_msg(name, subject_of(TOPIC))
    except Exception:
        return 0
    return int(json.loads(m.data or b"{}").get("mark", 0))


async def marks_in(js: JetStreamContext, name: str, since: int) -> set[int]:
    """The marks stored from stream sequence `since` on, read by sequence (a new consumer right after a
    node's restart can time out; a direct read by sequence is retried)."""
    for _ in range(20):
        try:
            last = (await js.stream_info(name)).state.last_seq
            got: set[int] = set()
            for seq in range(max(1, since), last + 1):
                m = await js.get_msg(name, seq)
                got.add(int(json.loads(m.data or b"{}")["mark"]))
            return got
        except nats.errors.Error:
            await asyncio.sleep(1.0)
    raise TimeoutError(f"{name} unreadable")


async def last_seq(js: JetStreamContext, name: str) -> int:
    return int((await js.stream_info(name)).state.last_seq)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as h:
            return bool(h.status == 200)
    except OSError:
        return False


async def restart(cl: NatsCluster, node: int, js: JetStreamContext, name: str) -> None:
    """The node back, JetStream on it up, the stream with a leader (the full /healthz waits on every
    consumer of every killed MQTT session, which can take longer than a trial)."""
    cl.nodes[node].start()
    url = f"http://127.0.0.1:{cl.monitor_ports[node]}/healthz?js-enabled-only=true"
    for _ in range(300):
        if await asyncio.to_thread(_healthy, url):
            break
        await asyncio.sleep(0.2)
    for _ in range(120):
        try:
            if (await js.stream_info(name)).cluster.leader:  # type: ignore[union-attr]
                break
        except Exception:
            pass
        await asyncio.sleep(0.5)
    await asyncio.sleep(1.0)


async def leader_of(js: JetStreamContext, name: str) -> int:
    info = await js.stream_info(name)
    assert info.cluster is not None and info.cluster.leader
    return int(info.cluster.leader[1:]) - 1  # nodes are n1..n3


async def run(folder: Path) -> dict[str, object]:
    cl = NatsCluster(folder)
    cl.start()
    out: dict[str, object] = {}
    try:
        nc = await nats.connect(servers=cl.urls, max_reconnect_attempts=-1)
        js = nc.jetstream(timeout=5)
        await streams.ensure(js, [SITE], partitions=PARTITIONS, replicas=3, retention_days=1, ttl=5)
        name = stream_name(partition_of(SITE, PARTITIONS))
        await asyncio.sleep(2)
        mark = 0

        leader = await leader_of(js, name)
        for node in range(3):
            r, w = await mqtt_retry(cl.mqtt_ports[node], f"dev-{node}")
            there, late = 0, []
            for i in range(N):
                mark += 1
                publish(w, mark, i % 60000 + 1)
                await w.drain()
                await puback(r)
                t0 = time.perf_counter()
                if await last_mark(js, name) >= mark:
                    there += 1
                    continue
                while await last_mark(js, name) < mark:
                    pass
                late.append((time.perf_counter() - t0) * 1000)
            w.close()
            role = "leader" if node == leader else "follower"
            out[f"at PUBACK, device on the stream {role} n{node + 1}"] = (
                f"{there}/{N} already stored; {len(late)} later"
                + (f" by median {statistics.median(late):.1f} ms, max {max(late):.1f} ms" if late else "")
            )

        acked_total, lost_total, lost_trials, closed = 0, 0, [], 0
        for t in range(TRIALS):
            leader = await leader_of(js, name)
            node = leader if t % 2 == 0 else (leader + 1) % 3
            r, w = await mqtt_retry(cl.mqtt_ports[node], f"kill-{t}")
            since = await last_seq(js, name) + 1
            first = mark + 1
            for i in range(20):
                mark += 1
                publish(w, mark, i + 1)
            await w.drain()
            try:
                await asyncio.wait_for(puback(r), 10)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                closed += 1  # NATS closed the connection unacknowledged: the device keeps and resends
                w.close()
                await asyncio.sleep(2)
                continue
            cl.nodes[node].kill()
            acked = 1
            try:
                while True:
                    await asyncio.wait_for(puback(r), 2)
                    acked += 1
            except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                pass
            w.close()
            await restart(cl, node, js, name)
            lost = set(range(first, first + acked)) - await marks_in(js, name, since)  # PUBACKs come in order
            acked_total += acked
            lost_total += len(lost)
            if lost:
                lost_trials.append(f"trial {t}: device on {'leader' if node == leader else 'follower'}")
        out["device's node SIGKILLed at its PUBACK"] = (
            f"{TRIALS} trials ({closed} refused before any PUBACK), {acked_total} PUBACKed, {lost_total} never"
            f" stored ({'; '.join(lost_trials)})"
        )

        acked_total, lost_total, windows = 0, 0, []
        for t in range(LEADER_TRIALS):
            leader = await leader_of(js, name)
            r, w = await mqtt_retry(cl.mqtt_ports[(leader + 1) % 3], f"ldev-{t}")
            since = await last_seq(js, name) + 1
            acked_marks: list[tuple[int, float]] = []  # mark, seconds after the kill (< 0: before)
            start, killed, pi = time.monotonic(), 0.0, 0
            while time.monotonic() - start < 6:
                if not killed and time.monotonic() - start > 1:
                    cl.nodes[leader].kill()
                    killed = time.monotonic()
                mark += 1
                pi = pi % 60000 + 1
                publish(w, mark, pi)
                await w.drain()
                try:
                    await asyncio.wait_for(puback(r), 5)
                except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                    break  # NATS closed the device's connection: it keeps the reading and resends
                acked_marks.append((mark, time.monotonic() - (killed or time.monotonic() + 1)))
            w.close()
            await restart(cl, leader, js, name)
            got = await marks_in(js, name, since)
            late_lost = [dt for m, dt in acked_marks if m not in got]
            acked_total += len(acked_marks)
            lost_total += len(late_lost)
            if late_lost:
                windows.append(f"{min(late_lost):.2f}..{max(late_lost):.2f} s after the kill")
        out["stream leader SIGKILLed, device on another node"] = (
            f"{LEADER_TRIALS} trials, {acked_total} PUBACKed, {lost_total} never stored ({'; '.join(windows)})"
        )
        await nc.close()
    finally:
        cl.stop()
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        for k, v in asyncio.run(run(Path(d))).items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
