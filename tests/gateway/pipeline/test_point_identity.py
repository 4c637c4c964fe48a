"""Property: for any interleaving of devices, clocks, redeliveries and restarts, the points written are
exactly the distinct messages (docs/storage.md, "A point's identity")."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from gateway.influx.lineprotocol import PointEncoder
from sensors import Decoder, RawMessage, compile_index, parse_registry
from simulators import estate

ESTATE = estate.small_estate(site="t1", buildings=1, units=1, households_per_unit=4)
INDEX = compile_index([parse_registry(estate.dump(ESTATE))])
SENSORS = estate.sensor_ids(ESTATE)
START = 1_800_000_000.0
CLOCKS = ("none", "second", "millisecond", "skewed")

device_plan = st.tuples(
    st.sampled_from(CLOCKS),
    st.lists(st.floats(0.0, 3.0), min_size=1, max_size=30),  # gaps between messages, seconds
    st.lists(st.integers(0, 29), max_size=2),  # after which messages the device reboots (seq from 0)
)


def _messages(plans: list[tuple[str, list[float], list[int]]]) -> list[tuple[float, str, bytes]]:
    """(true time, topic, payload) for every device's messages."""
    out = []
    for device, (clock, gaps, reboots) in zip(SENSORS, plans, strict=False):
        t, seq = START, 0
        for i, gap in enumerate(gaps):
            t += gap
            body: dict = {"seq": seq, "co_ppm": float(i % 3)}
            if clock == "second":
                body["ts"] = float(int(t))
            elif clock == "millisecond":
                body["ts"] = round(t, 3)
            elif clock == "skewed":
                body["ts"] = t + 10 * 86400.0  # a clock never set: replaced by receive time
            out.append((t, f"guardian/t1/sensor/{device}/telemetry", msgspec.json.encode(body)))
            seq += 1
            if i in reboots:
                seq = 0
                t += 1.0  # a reboot takes longer than a second
    return out


@given(
    st.lists(device_plan, min_size=1, max_size=len(SENSORS)),
    st.randoms(use_true_random=False),
    st.lists(st.integers(0, 10**6), max_size=20),
)
def test_points_are_the_distinct_messages(plans, rnd, redeliveries) -> None:  # type: ignore[no-untyped-def]
    sent = _messages(plans)
    # each message takes 0-500 ms to arrive, so devices interleave in any order; receive times increase
    arrivals = sorted(((t + rnd.uniform(0.0, 0.5), topic, payload) for t, topic, payload in sent))
    spooled: list[RawMessage] = []
    recv_us = int(START * 1e6)
    for number, (t, topic, payload) in enumerate(arrivals, 1):
        recv_us = max(recv_us + 1, int(t * 1e6))
        spooled.append(RawMessage(number, recv_us, topic, payload))
    # a crash before the exporter's cursor moved: some of what was spooled is written again
    again = [spooled[i % len(spooled)] for i in redeliveries]
    decoder, encoder = Decoder(INDEX), PointEncoder(INDEX)
    points: set[tuple[str, str]] = set()
    for batch in (spooled, again):
        for line in encoder.encode(decoder.decode(batch)).lines:
            key, _fields, ts = line.decode().split(" ")
            points.add((key, ts))
    assert len(points) == len(sent) > 0  # every generated message is distinct; the rewrites add none
