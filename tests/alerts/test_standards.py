"""The standards' acceptance windows (docs/standards.md §1-2), through the replay path, with ±10 % sensor noise and
readings every 10-60 s with jitter; several seeds each, because one lucky noise pattern proves nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators import scenarios as sc
from tests.alerts.support import first, run

T0 = sc.T0
ONSET = T0 + 600  # ten quiet minutes first, so the dose starts from clean air
SEEDS = (1, 2, 3)


def minutes_to(rule: str, transitions: list[dict], since: float = ONSET) -> float | None:
    t = first(transitions, rule)
    return None if t is None else (t["ts"] - since) / 60


def exposure(tmp_path: Path, ppm: float, minutes: float, profile: str, seed: int, **kw: object) -> list[dict]:
    msgs = sc.readings(
        site="t1",
        device="s-1",
        start=T0,
        end=ONSET + minutes * 60,
        co=sc.step(0, ppm, ONSET),
        seed=seed,
        **kw,
    )
    return run(tmp_path, msgs, co_profile=profile)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    ("profile", "ppm", "low", "high"),
    [
        ("EN50291", 50, 60, 90),
        ("EN50291", 100, 10, 40),
        ("EN50291", 300, 0, 3),
        ("UL2034", 70, 60, 240),
        ("UL2034", 150, 10, 50),
        ("UL2034", 400, 4, 15),
    ],
)
def test_alarm_inside_the_window(
    tmp_path: Path, profile: str, ppm: float, low: float, high: float, seed: int
) -> None:
    transitions = exposure(tmp_path, ppm, high + 5, profile, seed)
    took = minutes_to("CO-1", transitions)
    assert took is not None, f"{ppm} ppm never alarmed under {profile}"
    assert low <= took <= high, f"{ppm} ppm alarmed after {took:.1f} min under {profile}, window {low}-{high}"


@pytest.mark.parametrize("seed", SEEDS)
def test_en_30_ppm_no_alarm_for_two_hours(tmp_path: Path, seed: int) -> None:
    assert minutes_to("CO-1", exposure(tmp_path, 30, 125, "EN50291", seed)) is None


def test_ul_30_ppm_for_30_days_no_alarm(tmp_path: Path) -> None:
    transitions = exposure(tmp_path, 30, 30 * 24 * 60, "UL2034", 1, interval=(30.0, 60.0))
    assert minutes_to("CO-1", transitions) is None


@pytest.mark.parametrize("seed", SEEDS)
def test_realarm_within_6_min_after_hush(tmp_path: Path, seed: int) -> None:
    """UL 2034: hushed at the alarm, CO still at 150 ppm: the alarm is back within 6 minutes."""
    msgs = sc.readings(
        site="t1", device="s-1", start=T0, end=ONSET + 60 * 60, co=sc.step(0, 150, ONSET), seed=seed
    )
    raised = first(run(tmp_path, msgs, co_profile="UL2034"), "CO-1")
    assert raised is not None
    hush_at = raised["ts"] + 30
    hushed = sc.merge(msgs, [sc.event("t1", "s-1", hush_at, "hush", seq=9999)])
    transitions = run(tmp_path, hushed, co_profile="UL2034")
    acked = first(transitions, "CO-1", "acknowledged")
    assert acked is not None and acked["ts"] == pytest.approx(hush_at)
    again = first(transitions, "CO-2")
    assert again is not None, "no re-alarm after the hush"
    assert 0 < again["ts"] - hush_at <= 360
    assert set(again["notify"]) == {"R", "PM", "GO"}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("level", "rule"), [(10.5, "GAS-1"), (21.0, "GAS-2")])
def test_gas_alarm_between_15_and_60_s_at_the_set_point(
    tmp_path: Path, level: float, rule: str, seed: int
) -> None:
    """GB 15322.2: not sooner than 15 s, not later than 60 s after the gas reaches the set-point. Noise is
    kept at ±4 % so a reading of the set-point never dips below it (a dip rightly restarts the hold)."""
    msgs = sc.readings(
        site="t1",
        device="s-1",
        start=T0,
        end=ONSET + 180,
        gas=sc.step(0, level, ONSET),
        seed=seed,
        noise=0.04,
    )
    transitions = run(tmp_path, msgs)
    reached = min(
        m["payload"]["ts"] for m in msgs if m["payload"]["gas_lel"] >= (10 if rule == "GAS-1" else 20)
    )
    raised = first(transitions, rule)
    assert raised is not None
    # GAS-2 holds 5 s by the rule table's default; GAS-1 at the set-point keeps the standard's 15 s floor.
    floor = 15 if rule == "GAS-1" else 5
    assert floor <= raised["ts"] - reached <= 60
    if rule == "GAS-1":
        assert first(transitions, "GAS-2") is None
