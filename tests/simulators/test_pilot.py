"""`guardian simulate estate`: the pilot estate's scale, reproducible, and a registry the gateway loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alerts.rule import Audience
from alerts.signals import Where
from gateway.notify.directory import Directory
from sensors.index import compile_index
from sensors.registry import parse_registry
from simulators.pilot import pilot_estate, summary


def test_the_pilot_estate_has_the_scale_of_yanghe_and_loads(tmp_path: Path) -> None:
    out = tmp_path / "yanghe.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "simulate", "estate", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "2,077 households" in done.stdout
    registry = parse_registry(out.read_text(encoding="utf-8"), str(out))
    counts = summary(pilot_estate())
    assert counts["households"] == 2077
    assert 6500 <= counts["residents"] <= 7500
    assert 0.05 <= counts["elderly_alone"] / counts["households"] <= 0.12
    assert counts["detectors"] > counts["households"] and counts["doors"] == counts["units"]
    assert 3 <= counts["grids"] <= 4
    assert len(compile_index([registry])) == counts["detectors"] + counts["doors"]
    # Every grid has an officer, every lone elder a family contact to call.
    directory = Directory([registry])
    assert all(g.officers for g in registry.grids)
    for building, unit, household in registry.households():
        if any(r.lives_alone for r in household.residents):
            assert household.contacts, household.id
        assert directory.members(Where("yanghe", building.id, unit.id, household.id), Audience.GRID)


def test_same_seed_same_estate_other_seed_other_estate() -> None:
    assert pilot_estate(households=300) == pilot_estate(households=300)
    assert pilot_estate(households=300, seed=1) != pilot_estate(households=300, seed=2)
