"""The vectorised core against the scalar reference: random streams, random batch splits, same signals.

Batches deliberately put several readings of one device together, which is what the round-k evaluation
exists for; a read-modify-write over duplicate indices would silently drop all but one of them.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.core import RuleCore, occurrence_rank
from alerts.settings import AlertSettings
from alerts.signals import Signal
from alerts.site import compile_site_model
from sensors.columns import Readings
from sensors.index import DeviceIndex, compile_index
from sensors.registry import SiteRegistry
from simulators import scenarios
from tests.alerts import reference

DEVICES = 4


def model():  # type: ignore[no-untyped-def]
    raw = scenarios.registry(
        sensors=[{"id": f"s-{i}", "kind": "co_gas", "power": "mains"} for i in range(DEVICES)],
        residents=[{"id": "p-1", "vulnerable": True}],
    )
    reg = SiteRegistry.model_validate(raw)
    return compile_site_model([reg], compile_index([reg]))


level = st.one_of(st.floats(0, 40), st.floats(40, 400), st.sampled_from([0.0, 9.99, 10.0, 20.0, 35.0, 300.0]))
reading = st.tuples(
    st.integers(0, DEVICES - 1),
    st.floats(1.0, 90.0),  # seconds since the device's previous reading
    st.one_of(st.none(), level),
    st.one_of(st.none(), st.floats(0, 40)),
)


def as_readings(
    rows: list[tuple[int, float, float | None, float | None]], index: DeviceIndex, first: int
) -> Readings:
    n = len(rows)
    return Readings(
        msg_id=np.arange(first, first + n, dtype=np.int64),
        device=np.asarray([index.find("t1", f"s-{d}") for d, *_ in rows], dtype=np.int32),
        ts=np.asarray([t for _, t, _, _ in rows]),
        seq=np.zeros(n, dtype=np.int64),
        co_ppm=np.asarray([np.nan if c is None else c for *_, c, _ in rows]),
        gas_lel=np.asarray([np.nan if g is None else g for *_, g in rows]),
        battery_pct=np.full(n, np.nan),
        temp_c=np.full(n, np.nan),
    )


@settings(max_examples=150)
@given(stream=st.lists(reading, min_size=1, max_size=120), cuts=st.lists(st.integers(0, 120), max_size=8))
def test_vectorised_core_matches_the_scalar_reference(
    stream: list[tuple[int, float, float | None, float | None]], cuts: list[int]
) -> None:
    m = model()
    core = RuleCore(m)
    st_ = AlertSettings()
    ref_devices = {d: reference.Device(vulnerable=True) for d in range(DEVICES)}
    clock = dict.fromkeys(range(DEVICES), 1_800_000_000.0)
    rows = []
    expected: list[reference.Signal] = []
    for dev, gap, co, gas in stream:
        clock[dev] += gap
        t = clock[dev]
        rows.append((dev, t, co, gas))
        expected += reference.step(st_, dev, ref_devices[dev], t, co, gas)
    got: list[Signal] = []
    bounds = sorted({0, len(rows), *(c for c in cuts if c < len(rows))})
    for a, b in itertools.pairwise(bounds):
        core.readings(as_readings(rows[a:b], m.index, a), got)
    interesting = {"CO-1", "CO-4", "GAS-1", "GAS-2", "GAS-3"}
    got_keys = sorted(
        (s.rule, int(s.subject.split("-")[1]), s.on, round(s.ts, 6)) for s in got if s.rule in interesting
    )
    want = sorted((r, d, on, round(ts, 6)) for r, d, on, ts in expected)
    assert got_keys == want
    for d in range(DEVICES):
        i = m.index.find("t1", f"s-{d}")
        assert core.co.dose[i] == pytest.approx(ref_devices[d].dose, rel=1e-9, abs=1e-12)


def test_occurrence_rank_counts_earlier_rows_of_the_same_device() -> None:
    dev = np.asarray([5, 3, 5, 5, 1, 3], dtype=np.int32)
    assert occurrence_rank(dev).tolist() == [0, 0, 1, 2, 0, 1]
