"""The vectorised flood guard equals a per-message token bucket; alarms are never dropped."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sensors.flood import FloodGuard, is_alarm_event


def reference(batches, devices: int, rate: float, burst: float):  # type: ignore[no-untyped-def]
    """One message at a time: refill at the batch's time, spend a token per message, drop without one."""
    tokens = [burst] * devices
    last = [None] * devices
    out = []
    for now, batch in batches:
        refilled = set()
        for device, exempt in batch:
            if device not in refilled:
                refilled.add(device)
                if last[device] is not None:
                    tokens[device] = min(burst, tokens[device] + max(now - last[device], 0.0) * rate)
                last[device] = now
            out.append(exempt or tokens[device] >= 1)
            tokens[device] = max(tokens[device] - 1, 0.0)
    return out


batches = st.lists(
    st.tuples(
        st.floats(0, 100),
        st.lists(
            st.tuples(st.integers(0, 4), st.booleans()),
            max_size=40,
        ),
    ),
    max_size=8,
).map(lambda bs: sorted(bs, key=lambda b: b[0]))


@given(batches, st.sampled_from([0.5, 1.0, 2.0]), st.sampled_from([1.0, 2.5, 5.0]))
def test_vectorised_guard_equals_the_per_message_bucket(batches, rate, burst) -> None:  # type: ignore[no-untyped-def]
    guard = FloodGuard(5, rate=rate, burst=burst)
    got: list[bool] = []
    for now, batch in batches:
        device = np.array([d for d, _ in batch], dtype=np.int32)
        exempt = np.array([e for _, e in batch], dtype=np.bool_)
        got += guard.admit(device, now, exempt).tolist()
    assert got == reference(batches, 5, rate, burst)


def test_alarm_events_pass_a_spent_bucket_and_flooding_devices_are_counted() -> None:
    guard = FloodGuard(3, rate=1.0, burst=2)
    device = np.array([0, 0, 0, 0, 1], dtype=np.int32)
    alarm = np.array([False, False, False, True, False])
    assert guard.admit(device, 100.0, alarm).tolist() == [True, True, False, True, True]
    assert guard.flooding(100.0) == 1 and guard.flooding(161.0) == 0
    assert guard.admit(device[:3], 102.0, alarm[:3]).tolist() == [True, True, False]
    assert is_alarm_event("guardian/t1/sensor/s-1/event", b'{"seq": 1, "event": "alarm_co"}')
    assert not is_alarm_event("guardian/t1/sensor/s-1/event", b'{"seq": 1, "event": "fault"}')
    assert not is_alarm_event("guardian/t1/sensor/s-1/telemetry", b'{"event": "alarm_gas"}')
