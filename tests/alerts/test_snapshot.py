"""Rule state across a restart: a snapshot taken mid-exposure and restored into a new engine gives the same
alarms as a run that never stopped; the format is declared columns, not whatever the attributes are called."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
import yaml

from alerts import snapshot
from alerts.engine import Engine
from gateway.pipeline.replay import build_engine, replay
from simulators import scenarios as sc

T0 = sc.T0


def _engine(tmp_path: Path) -> tuple[Engine, Any]:
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(sc.registry(residents=[{"id": "p-1", "vulnerable": True}])))
    return build_engine(path)


def _feed(engine: Engine, decoder: Any, messages: list[dict[str, Any]], out: list[dict[str, Any]]) -> None:
    replay(engine, decoder, io.BytesIO(sc.jsonl(messages)), emit=lambda t: out.append(t.to_json()))


def _history() -> list[dict[str, Any]]:
    """A tamper alarm left open, then CO at 100 ppm: dose, COHb and the hourly mean all under way."""
    co = sc.readings(site="t1", device="s-1", start=T0, end=T0 + 50 * 60, co=lambda t: 100.0, seed=3)
    return sc.merge(co, [sc.event("t1", "s-1", T0 + 60, "tamper", seq=100_000)])


def _text(transitions: list[dict[str, Any]]) -> str:
    for t in transitions:
        for e in t.get("evidence", []):
            e.pop("msg_id", None)
    return json.dumps(transitions)


def test_a_restart_mid_exposure_raises_what_an_unbroken_run_raises(tmp_path: Path) -> None:
    messages = _history()
    split = next(i for i, m in enumerate(messages) if m["payload"]["ts"] > T0 + 12 * 60)
    unbroken: list[dict[str, Any]] = []
    engine, decoder = _engine(tmp_path)
    _feed(engine, decoder, messages, unbroken)
    assert {"CO-1", "HLT-2"} <= {t["rule"] for t in unbroken if t["transition"] == "raised"}

    before: list[dict[str, Any]] = []
    first, decoder = _engine(tmp_path)
    _feed(first, decoder, messages[:split], before)
    blob = first.snapshot()
    assert blob[:1] != b"\x80"  # not a pickle
    after: list[dict[str, Any]] = []
    second, decoder = _engine(tmp_path)
    assert second.restore(blob) and second.fresh_columns == []
    _feed(second, decoder, messages[split:], after)
    # as text (evidence may hold NaN), without msg_id: replay numbers each feed's lines from 0, where the
    # gateway's are spool ids that go on across a restart
    assert _text(before + after) == _text(unbroken)


def test_a_column_renamed_since_the_snapshot_starts_fresh_and_is_named(tmp_path: Path) -> None:
    engine, decoder = _engine(tmp_path)
    _feed(engine, decoder, _history()[:40], [])
    snap = msgspec.msgpack.decode(engine.snapshot(), type=snapshot.Snapshot)
    for c in snap.columns:
        if c.name == "dose":
            c.name = "dose_old"
    again, _ = _engine(tmp_path)
    assert again.restore(msgspec.msgpack.encode(snap))
    assert again.fresh_columns == ["dose"]
    assert again.core.co.dose.max() == 0.0 and engine.core.co.dose.max() > 0
    assert np.array_equal(again.core.co.co_t, engine.core.co.co_t, equal_nan=True)
    assert set(again.lifecycle.by_id) == set(engine.lifecycle.by_id)


def test_a_pickled_snapshot_of_the_previous_version_is_read_once(tmp_path: Path) -> None:
    engine, decoder = _engine(tmp_path)
    _feed(engine, decoder, _history()[:40], [])
    life = engine.lifecycle
    old = pickle.dumps(
        {
            "version": 1,
            "shape": engine.shape,
            "columns": engine.core.columns(),
            "started": engine.core.started,
            "windows": engine.core.windows,
            "clock": engine.clock,
            "lifecycle": {k: v for k, v in vars(life).items() if k not in ("settings", "default")},
        }
    )
    again, _ = _engine(tmp_path)
    assert again.restore(old)
    assert again.core.co.dose.tolist() == engine.core.co.dose.tolist()
    assert set(again.lifecycle.by_id) == set(life.by_id)
    assert again.snapshot()[:1] != b"\x80"


def test_a_file_that_is_no_snapshot_is_refused_with_a_reason(tmp_path: Path) -> None:
    engine, _ = _engine(tmp_path)
    with pytest.raises(ValueError, match="not a rule-state snapshot"):
        engine.restore(b"\x93garbage")
    assert isinstance(engine.core.windows, dict) and engine.lifecycle.alarms == {}


def test_a_snapshot_from_before_the_rule_rows_restores_into_their_matrices(tmp_path: Path) -> None:
    """The previous release saved one flat column per flag (`fault`, `gas1_since`, ...); its open tamper
    alarm and gas timers come back in the event and threshold matrices, and nothing is reported fresh."""
    engine, decoder = _engine(tmp_path)
    gas = sc.readings(site="t1", device="s-1", start=T0, end=T0 + 120, gas=lambda t: 30.0, seed=4)
    _feed(engine, decoder, sc.merge(gas, [sc.event("t1", "s-1", T0 + 60, "tamper", seq=100_000)]), [])
    core = engine.core
    assert core.health.fault.any() and not np.isnan(core.thresholds.threshold_since).all()
    snap = msgspec.msgpack.decode(engine.snapshot(), type=snapshot.Snapshot)
    old = {
        "fault": core.health.fault, "end_of_life": core.health.end_of_life,
        "gas1": core.thresholds.threshold_on[0], "gas2": core.thresholds.threshold_on[1],
        "gas1_since": core.thresholds.threshold_since[0], "gas2_since": core.thresholds.threshold_since[1],
        "gas_low_since": core.thresholds.threshold_low_since[0],
    }  # fmt: skip
    gone = {"sensor_events", "threshold_on", "threshold_since", "threshold_low_since"}
    snap.columns = [c for c in snap.columns if c.name not in gone] + [
        snapshot.Column(name, v.dtype.str, list(v.shape), np.ascontiguousarray(v).tobytes())
        for name, v in old.items()
    ]
    again, _ = _engine(tmp_path)
    assert again.restore(msgspec.msgpack.encode(snap))
    assert again.fresh_columns == []
    assert np.array_equal(again.core.health.fault, core.health.fault)
    assert np.array_equal(
        again.core.thresholds.threshold_since, core.thresholds.threshold_since, equal_nan=True
    )


UPGRADE = Path(__file__).resolve().parents[1] / "fixtures" / "upgrade"


def test_a_snapshot_written_by_the_previous_release_loads(tmp_path: Path) -> None:
    """tests/fixtures/upgrade/alerts.snapshot was written by an earlier commit's code (its README says which),
    12 minutes into 100 ppm with a tamper alarm open. This code restores it with no column fresh, keeps its
    open alarms, and the rest of the exposure raises the alarms that code's unbroken run raised, same ids."""
    expected = json.loads((UPGRADE / "expected.json").read_text())
    engine, decoder = build_engine(UPGRADE / "registry.yaml")
    assert engine.restore((UPGRADE / "alerts.snapshot").read_bytes())
    assert engine.fresh_columns == []
    assert sorted(engine.lifecycle.by_id) == expected["open_at_split"]
    assert engine.core.co.dose.max() > 0  # the dose so far came back, not zeros
    messages = _history()
    after: list[dict[str, Any]] = []
    _feed(engine, decoder, [m for m in messages if m["payload"]["ts"] > expected["split_ts"]], after)
    raised = {t["alarm_id"] for t in after if t["transition"] == "raised"}
    assert sorted(raised | set(expected["open_at_split"])) == expected["raised"]
