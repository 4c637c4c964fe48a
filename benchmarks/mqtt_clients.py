"""Receive-only comparison of MQTT clients at QoS 1: paho-mqtt 2.x (manual ack), aiomqtt, and ours.

Fair by construction: each client first registers a persistent session and leaves; C publishers then fill
the broker's queue for it; the client reconnects and is timed until it has received (and acknowledged) every
message. The publisher's speed is therefore out of the figure, and each client gets the same bytes.
CPU is this process's own CPU time, so the broker's share is excluded.
"""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gateway.mqtt.client import MqttSession, SessionOptions
from gateway.mqtt.codec import Publish
from gateway.ops import services

N = int(os.environ.get("BENCH_CLIENT_MESSAGES", "100000"))
PAYLOAD = b'{"seq":1,"ts":1800000000.0,"co_ppm":2.1,"gas_lel":0.0,"battery_pct":95.0,"temp_c":21.4}'
TOPIC = "guardian/t1/sensor/s-00001/telemetry"


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def publish_c(port: int, n: int, *, topic: str = TOPIC) -> None:
    """Several mosquitto_pub -l processes of 25k lines each: in mosquitto-clients 2.0.11 one process stalls
    for good after about 34.5k QoS 1 messages read from stdin."""
    publishers = max(2, -(-n // 25_000))
    procs = [
        subprocess.Popen(
            ["mosquitto_pub", "-p", str(port), "-q", "1", "-t", topic, "-l", "-i", f"bench-pub-{i}"],
            stdin=subprocess.PIPE,
        )
        for i in range(publishers)
    ]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write((PAYLOAD + b"\n") * (n // publishers))
        p.stdin.close()
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError("mosquitto_pub failed")


def queued_for(port: int, register: Callable[[], None], receive: Callable[[], None]) -> tuple[float, float]:
    register()
    publish_c(port, N)
    time.sleep(1.0)
    c0, t0 = cpu(), time.monotonic()
    receive()
    return N / (time.monotonic() - t0), (cpu() - c0) / N * 1e6


def paho(port: int) -> tuple[float, float]:
    import paho.mqtt.client as mqtt

    def client() -> mqtt.Client:
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id="bench-paho",
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        c.manual_ack_set(True)
        return c

    def register() -> None:
        c = client()
        c.connect("127.0.0.1", port)
        c.subscribe("guardian/#", qos=1)
        c.loop_start()
        time.sleep(0.5)
        c.disconnect()
        c.loop_stop()

    def receive() -> None:
        c = client()
        got = 0

        def on_message(cl: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            nonlocal got
            cl.ack(msg.mid, msg.qos)
            got += 1
            if got == N:
                cl.disconnect()

        c.on_message = on_message
        c.connect("127.0.0.1", port)
        c.loop_forever()

    return queued_for(port, register, receive)


def aiomqtt_client(port: int) -> tuple[float, float]:
    import aiomqtt

    async def session(count: int) -> None:
        async with aiomqtt.Client("127.0.0.1", port, identifier="bench-aiomqtt", clean_session=False) as c:
            await c.subscribe("guardian/#", qos=1)
            got = 0
            if count:
                async for _ in c.messages:
                    got += 1
                    if got == count:
                        break

    return queued_for(port, lambda: asyncio.run(session(0)), lambda: asyncio.run(session(N)))


def ours(port: int) -> tuple[float, float]:
    async def session(count: int) -> None:
        done = asyncio.Event()
        got = 0
        s: MqttSession

        def deliver(publishes: list[Publish], generation: int) -> None:
            nonlocal got
            got += len(publishes)
            s.ack([p.packet_id for p in publishes if p.packet_id], generation)
            if got >= count:
                done.set()

        s = MqttSession(
            SessionOptions(
                host="127.0.0.1",
                port=port,
                client_id="bench-ours",
                subscriptions=[("guardian/#", 1)],
            ),
            deliver,
        )
        async with asyncio.TaskGroup() as tg:
            runner = tg.create_task(s.run())
            await s.wait_connected()
            if count:
                await done.wait()
            else:
                await asyncio.sleep(0.5)
            await s.disconnect()
            runner.cancel()

    return queued_for(port, lambda: asyncio.run(session(0)), lambda: asyncio.run(session(N)))


def _into(holder: list[tuple[float, float]], bench: Callable[[int], tuple[float, float]], port: int) -> None:
    holder.append(bench(port))


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="guardian-clients-"))
    print(f"receive-only, QoS 1, {N:,} queued messages of {len(PAYLOAD)} bytes, one process")
    for name, bench in (
        ("paho-mqtt 2.x, manual ack", paho),
        ("aiomqtt (acks before the caller sees it)", aiomqtt_client),
        ("gateway.mqtt (batched acks)", ours),
    ):
        with services.mosquitto(tmp / name.split()[0]) as broker:
            holder: list[tuple[float, float]] = []
            t = threading.Thread(target=_into, args=(holder, bench, broker.port))
            t.start()
            t.join(300)
            if not holder:
                print(f"{name:44s} did not finish in 300 s")
                continue
            rate, us = holder[0]
            print(f"{name:44s} {rate:10,.0f} msg/s  {us:5.1f} us CPU/msg")


if __name__ == "__main__":
    main()
