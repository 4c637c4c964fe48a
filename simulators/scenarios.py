"""Recorded-history generators for `guardian replay`: exposures, leaks, door traffic, as wire messages.

Every scenario is seeded and returns JSONL-ready dicts `{"topic", "payload"}` in publish order, with the
sensor noise (±10 %) and irregular reporting (10-60 s with jitter) that real detectors have, so a rule
proven here is proven against the readings it will really get.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

Message = dict[str, Any]
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z: a fixed start so transcripts are reproducible


def telemetry_topic(site: str, device: str) -> str:
    return f"guardian/{site}/sensor/{device}/telemetry"


def readings(
    *,
    site: str,
    device: str,
    start: float,
    end: float,
    co: Callable[[float], float] | None = None,
    gas: Callable[[float], float] | None = None,
    interval: tuple[float, float] = (10.0, 60.0),
    noise: float = 0.10,
    seed: int = 1,
    seq0: int = 0,
) -> list[Message]:
    """Readings from `start` to `end` at random intervals; `co`/`gas` give the true value at time t."""
    rng = random.Random(seed)
    out: list[Message] = []
    t = start
    seq = seq0
    while t < end:
        payload: dict[str, Any] = {"seq": seq, "ts": round(t, 3), "battery_pct": 90.0}
        if co is not None:
            payload["co_ppm"] = round(max(0.0, co(t) * (1 + rng.uniform(-noise, noise))), 2)
        if gas is not None:
            payload["gas_lel"] = round(min(100.0, max(0.0, gas(t) * (1 + rng.uniform(-noise, noise)))), 2)
        out.append({"topic": telemetry_topic(site, device), "payload": payload})
        seq += 1
        t += rng.uniform(*interval)
    return out


def step(before: float, after: float, at: float) -> Callable[[float], float]:
    return lambda t: after if t >= at else before


def event(
    site: str, device: str, ts: float, name: str, seq: int = 0, *, door: bool = False, **fields: Any
) -> Message:
    kind = "door" if door else "sensor"
    return {
        "topic": f"guardian/{site}/{kind}/{device}/event",
        "payload": {"seq": seq, "ts": ts, "event": name, **fields},
    }


def status(site: str, device: str, ts: float, online: bool, *, door: bool = False) -> Message:
    kind = "door" if door else "sensor"
    return {"topic": f"guardian/{site}/{kind}/{device}/status", "payload": {"online": online, "ts": ts}}


def ack(ts: float, by: str, **target: str) -> Message:
    return {"ack": {"ts": ts, "by": by, **target}}


def merge(*streams: Iterable[Message]) -> list[Message]:
    """Interleave streams by event time, as a broker would deliver them."""
    items = [m for s in streams for m in s]
    return sorted(items, key=_time)


def _time(m: Message) -> float:
    if "ack" in m:
        return float(m["ack"]["ts"])
    return float(m["payload"].get("ts", 0.0))


def jsonl(messages: Iterable[Message]) -> bytes:
    enc = msgspec.json.Encoder()
    return b"".join(enc.encode(m) + b"\n" for m in messages)


def registry(
    *,
    site: str = "t1",
    sensors: Iterable[dict[str, Any]] = ({"id": "s-1", "kind": "co_gas", "power": "mains"},),
    residents: Iterable[dict[str, Any]] = ({"id": "p-1"},),
    doors: Iterable[str] = ("d-1",),
    co_profile: str = "EN50291",
    rules: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One building, one unit, one household: the smallest registry a scenario needs."""
    return {
        "site": site,
        "timezone": "Asia/Shanghai",
        "co_profile": co_profile,
        "rules": rules or {},
        "grids": [{"id": "g1", "buildings": ["b1"], "officers": [{"id": "o-1"}]}],
        "buildings": [
            {
                "id": "b1",
                "units": [
                    {
                        "id": "b1-u1",
                        "doors": list(doors),
                        "households": [
                            {
                                "id": "b1-u1-101",
                                "sensors": list(sensors),
                                "residents": list(residents),
                                "contacts": [{"id": "c-1"}],
                            }
                        ],
                    }
                ],
            }
        ],
    }
