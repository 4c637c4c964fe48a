"""A simulated estate live over MQTT: every device of a `World`, in real time or faster, from one process.

Time is stepped a second of simulated time at a time (`speed` seconds when faster than real time); each
step's messages are published at QoS 1 as the wall clock reaches them. Messages carry simulated time as
`ts`, so faster than real time only suits a gateway whose clock skew limit allows it. Incidents
(`simulators.incidents`) are put on the world every `incident_every` seconds of simulated time; each is
announced through `announce` and its ground truth appended to `truth` (JSONL, as `simulate scenario`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from simulators.fleet import Login, connected
from simulators.incidents import ROTATION, Incident
from simulators.world import World


async def run_live(
    world: World,
    *,
    host: str,
    port: int,
    speed: float = 1.0,
    step: float | None = None,
    incident_every: float | None = None,
    first_incident: float = 15.0,
    incidents: Sequence[Incident] = ROTATION,
    announce: Callable[[str], None] = print,
    truth: Path | None = None,
    seed: int = 1,
    client_id: str = "guardian-estate",
    login: Login | None = None,
    protocol: int = 5,
) -> int:
    """Publish until cancelled; returns the number of messages published. `protocol` 4 speaks MQTT 3.1.1
    (a NATS broker)."""
    rng = np.random.default_rng(seed)
    # A step costs ~0.1 ms per device whatever its length (2,771 detectors: ~0.25 s per step), so faster
    # than real time takes longer steps: one per wall-clock second.
    step = step or max(1.0, speed)
    published = 0
    t = world.start
    wall0 = time.monotonic()
    next_incident = t + first_incident if incident_every else float("inf")
    turn = 0
    async with connected(host, port, client_id, login, protocol=protocol) as session:
        pending: list[asyncio.Future[int]] = []
        try:
            while True:
                if t >= next_incident:
                    text, expects = incidents[turn % len(incidents)](world, t, rng)
                    announce(text)
                    if truth is not None:
                        with truth.open("a", encoding="utf-8") as f:
                            f.writelines(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in expects)
                    turn += 1
                    next_incident += incident_every or float("inf")
                batch = await asyncio.to_thread(world.window, t, t + step)
                for _, topic, payload in batch:
                    fut = await session.publish_nowait(topic, payload, qos=1)
                    if fut is not None:
                        pending.append(fut)
                published += len(batch)
                t += step
                pending = [f for f in pending if not f.done()]
                ahead = (t - world.start) / speed - (time.monotonic() - wall0)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        finally:
            await asyncio.gather(*pending, return_exceptions=True)
    return published
