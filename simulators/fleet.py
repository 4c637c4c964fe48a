"""A fleet of simulated detectors publishing telemetry over MQTT, from one process.

Normal life only for now (background CO, a little gas when cooking); the hazard and fault library grows in
the simulator issue. Every device numbers its messages, so a test can prove nothing was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence

import msgspec

from gateway.mqtt import MqttSession, SessionOptions


def reading(seq: int, ts: float, rng: random.Random) -> bytes:
    hour = time.localtime(ts).tm_hour
    cooking = hour in (7, 11, 12, 18, 19) and rng.random() < 0.1
    return msgspec.json.encode(
        {
            "seq": seq,
            "ts": round(ts, 3),
            "co_ppm": round(max(0.0, rng.gauss(2.0, 1.0)), 1),
            "gas_lel": round(rng.uniform(1.0, 4.0) if cooking else 0.0, 1),
            "battery_pct": 95.0,
            "temp_c": round(21 + 2 * math.sin(ts / 3600), 1),
        }
    )


@contextlib.asynccontextmanager
async def connected(host: str, port: int, client_id: str) -> AsyncIterator[MqttSession]:
    """A clean-start session, connected, whose QoS 1 publishes are all PUBACKed before it closes."""
    session = MqttSession(SessionOptions(host=host, port=port, client_id=client_id, clean_start=True))
    async with asyncio.TaskGroup() as tg:
        runner = tg.create_task(session.run(), name=f"mqtt-{client_id}")
        await session.wait_connected()
        try:
            yield session
        finally:
            await session.disconnect()
            runner.cancel()


async def publish_fleet(
    *,
    host: str,
    port: int,
    site: str,
    devices: Sequence[str],
    interval: float,
    count: int | None = None,
    seed: int = 1,
    clock: Callable[[], float] = time.time,
    client_id: str = "guardian-sim",
) -> int:
    """Every device publishes one reading per `interval` seconds; returns the number published."""
    rng = random.Random(seed)
    published = 0
    async with connected(host, port, client_id) as session:
        pending: list[asyncio.Future[int]] = []
        seq = 0
        while count is None or seq < count:
            started = time.monotonic()
            for device in devices:
                topic = f"guardian/{site}/sensor/{device}/telemetry"
                fut = await session.publish_nowait(topic, reading(seq, clock(), rng), qos=1)
                if fut is not None:
                    pending.append(fut)
                published += 1
            seq += 1
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
            pending = [f for f in pending if not f.done()]
        await asyncio.gather(*pending, return_exceptions=True)
    return published


async def publish_door_heartbeats(
    *,
    host: str,
    port: int,
    site: str,
    doors: Sequence[str],
    interval: float = 60.0,
    clock: Callable[[], float] = time.time,
    client_id: str = "guardian-doors",
) -> None:
    """Door terminals' timed `status` heartbeats (docs/protocol.md: at least every 5 min), so a simulated
    estate does not raise DR-9 'door terminal offline' for every door."""
    async with connected(host, port, client_id) as session:
        while True:
            for door in doors:
                payload = json.dumps({"online": True, "ts": round(clock(), 3)}).encode()
                await session.publish_nowait(f"guardian/{site}/door/{door}/status", payload, qos=1)
            await asyncio.sleep(interval)


async def publish_all(
    *,
    host: str,
    port: int,
    messages: Sequence[tuple[str, bytes]],
    rate: float | None = None,
    client_id: str = "guardian-load",
) -> int:
    """Publish (topic, payload) pairs at QoS 1, at most `rate` per second; returns once all are PUBACKed."""
    async with connected(host, port, client_id) as session:
        started = time.monotonic()
        pending: list[asyncio.Future[int]] = []
        for i, (topic, payload) in enumerate(messages):
            fut = await session.publish_nowait(topic, payload, qos=1)
            if fut is not None:
                pending.append(fut)
            if rate is not None and i % 100 == 99:
                ahead = (i + 1) / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await asyncio.gather(*pending)
    return len(messages)
