"""Helpers of the fault battery: a publisher in a thread, the exactly-once check by per-device seq."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import msgspec

from gateway.ops import services
from simulators.fleet import publish_all
from tests.support import GatewayProcess, simulator_login, stored_count, stored_seqs, wait_for


class Publisher(threading.Thread):
    """publish_all in a thread of its own (QoS 1, all PUBACKed when it returns); `error` if it failed."""

    def __init__(
        self,
        broker: services.ChildServer,
        messages: Sequence[tuple[str, bytes]],
        *,
        rate: float | None = None,
        client_id: str = "guardian-load",
    ) -> None:
        super().__init__(daemon=True)
        self.broker = broker
        self.messages = messages
        self.rate = rate
        self.client_id = client_id
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(
                publish_all(
                    host="127.0.0.1",
                    port=self.broker.port,
                    login=simulator_login(self.broker),
                    messages=self.messages,
                    rate=self.rate,
                )
            )
        except BaseException as exc:
            self.error = exc

    def finish(self, timeout: float) -> None:
        self.join(timeout)
        assert not self.is_alive(), "the publisher did not finish"
        assert self.error is None, f"the publisher failed: {self.error!r}"


def publish(broker: services.ChildServer, messages: Sequence[tuple[str, bytes]]) -> None:
    """Publish at full speed and return once the broker has acknowledged every message."""
    asyncio.run(
        publish_all(host="127.0.0.1", port=broker.port, login=simulator_login(broker), messages=messages)
    )


def expected_seqs(messages: Sequence[tuple[str, bytes]]) -> dict[str, list[int]]:
    """device -> sorted seqs of the telemetry messages (topic guardian/<site>/sensor/<device>/telemetry)."""
    out: dict[str, list[int]] = {}
    for topic, payload in messages:
        out.setdefault(topic.split("/")[3], []).append(msgspec.json.decode(payload)["seq"])
    return {d: sorted(v) for d, v in out.items()}


def exactly_once_problems(port: int, expected: dict[str, list[int]]) -> str:
    """'' when InfluxDB holds every expected (device, seq) exactly once and nothing else; else what differs."""
    stored = stored_seqs(port)
    problems = []
    for device in sorted(set(stored) | set(expected)):
        have, want = stored.get(device, []), expected.get(device, [])
        if have == want:
            continue
        counts: dict[int, int] = {}
        for s in have:
            counts[s] = counts.get(s, 0) + 1
        missing = sorted(set(want) - set(counts))
        twice = sorted(s for s, n in counts.items() if n > 1)
        extra = sorted(set(counts) - set(want))
        problems.append(
            f"{device}: missing {missing[:10]} ({len(missing)}), duplicated {twice[:10]} "
            f"({len(twice)}), unexpected {extra[:10]} ({len(extra)})"
        )
    return "\n".join(problems[:20]) + (f"\n... {len(problems)} devices differ" if len(problems) > 20 else "")


def assert_exactly_once(port: int, expected: dict[str, list[int]]) -> None:
    total = sum(len(v) for v in expected.values())
    assert stored_count(port) == total, f"stored {stored_count(port)} rows, expected {total}"
    problems = exactly_once_problems(port, expected)
    assert not problems, problems


def all_arrive(
    gw: GatewayProcess, port: int, messages: Sequence[tuple[str, bytes]], within: float, what: str
) -> None:
    """Every message stored once: wait for the count, give a late duplicate time to land, then check each
    device's seqs (no gaps, no duplicates)."""
    total = len(messages)
    wait_for(
        lambda: stored_count(port) >= total,
        within,
        message=what,
        diagnose=lambda: f"stored {stored_count(port)}; health {gw.health()}\n{gw.log_tail()}",
    )
    time.sleep(1.5)
    assert_exactly_once(port, expected_seqs(messages))
