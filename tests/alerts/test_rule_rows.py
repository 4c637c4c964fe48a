"""A rule is a row: its id, texts and traits live in one place, and a threshold, event or counted row is
the whole rule (nothing else names it)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from alerts.rule import Event, Family, Rule, Severity, Threshold
from alerts.rules import ROWS, RULES, of_family
from alerts.rules.base import Emit
from alerts.rules.events import Events
from alerts.rules.thresholds import Thresholds
from alerts.settings import AlertSettings
from sensors import wire

ROOT = Path(__file__).resolve().parents[2]
RULE_ID = re.compile(r"""["'](?:CO|GAS|HLT|DR|WEL|SYS)-[0-9A-Z]*["']""")
"""An id, or an id's prefix ("WEL-" matched instead of asking the family), quoted in code or a page."""


def test_no_rule_id_is_written_outside_its_row() -> None:
    """The notifier asks a trait (`siren`), the report and the pages a family: an id in code elsewhere is a
    second home."""
    offenders = []
    for package in ("alerts", "gateway", "sensors"):
        for path in sorted(p for ext in ("*.py", "*.js") for p in (ROOT / package).rglob(ext)):
            if path.is_relative_to(ROOT / "alerts" / "rules"):
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if RULE_ID.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_each_family_file_holds_its_own_rows_with_both_languages() -> None:
    for rule in ROWS:
        module = f"alerts.rules.{rule.family.value}"
        holder = next(v for v in vars(__import__(module, fromlist=["ROWS"])).values() if v is rule)
        assert holder is rule
        assert rule.title and rule.title_zh and not rule.title_zh.isascii(), rule.id
        assert bool(rule.action) == bool(rule.action_zh), rule.id
    assert of_family(Family.WELFARE) == {"WEL-1", "WEL-2", "WEL-3"}
    assert not RULES["DR-7"].siren and all(r.siren for r in ROWS if r.id != "DR-7")
    assert all(r.system for r in ROWS if r.id.startswith("SYS-"))


def test_an_event_row_naming_an_event_the_wire_does_not_have_is_refused() -> None:
    bad = Rule(id="DR-X", family=Family.DOORS, severity=Severity.P3, notify=(), title="x", title_zh="门",
               trigger=Event(source="door", on=("door_smashed",)))  # fmt: skip
    with pytest.raises(ValueError, match="door_smashed"):
        Events("door_events", [bad], wire.DOOR_EVENTS, 1, Emit(None))  # type: ignore[arg-type]


class _Model:
    class index:
        ids = ("d0", "d1", "d2")

    def where(self, dev: int) -> object:
        return ("site", "", "", "")


def _stage(at: str, hold: str, rule_id: str) -> Rule:
    return Rule(id=rule_id, family=Family.GAS, severity=Severity.P2, notify=(), title=rule_id, title_zh="燃气",
                trigger=Threshold(reading="gas_lel", at=at, hold=hold, release="gas_release_lel",
                                  release_hold="gas_release_hold_s"))  # fmt: skip


def test_a_new_threshold_row_is_evaluated_with_no_other_code() -> None:
    """A third gas stage added as a row (here at 5 %LEL held 10 s) raises and clears by itself, beside
    the existing stage in the same matrix, at the moments its figures say."""
    st = dataclasses.replace(AlertSettings(), gas_stage1_lel=5.0, gas_stage1_hold_s=10.0, gas_stage2_lel=50.0)
    rows = [
        _stage("gas_stage1_lel", "gas_stage1_hold_s", "GAS-EARLY"),
        _stage("gas_stage2_lel", "gas_stage2_hold_s", "GAS-HIGH"),
    ]
    th = Thresholds(rows, 3, Emit(_Model()))  # type: ignore[arg-type]
    out: list = []
    d = np.array([0, 1], dtype=np.int32)
    warm = np.array([True, False])  # device 1 is warming up: its timer must not start
    msg = np.array([1, 2])
    for ts in (0.0, 5.0, 12.0):
        t = np.full(2, ts)
        th.readings(st, "gas_lel", d, t, t, np.array([8.0, 8.0]), warm, msg, out)
    assert [(s.rule, s.subject, s.on, s.ts) for s in out] == [("GAS-EARLY", "d0", True, 10.0)]
    assert th.on(rows[0]).tolist() == [True, False, False]
    out.clear()
    release_hold = st.gas_release_hold_s
    for ts in (20.0, 20.0 + release_hold):
        t = np.full(2, ts)
        th.readings(st, "gas_lel", d, t, t, np.array([0.0, 0.0]), np.array([True, True]), msg, out)
    assert [(s.rule, s.on, s.ts) for s in out] == [("GAS-EARLY", False, 20.0 + release_hold)]


def test_a_new_threshold_row_falls_due_on_the_clock_without_a_reading() -> None:
    st = dataclasses.replace(AlertSettings(), gas_stage1_lel=5.0, gas_stage1_hold_s=10.0)
    row = _stage("gas_stage1_lel", "gas_stage1_hold_s", "GAS-EARLY")
    th = Thresholds([row], 3, Emit(_Model()))  # type: ignore[arg-type]
    out: list = []
    d = np.array([2], dtype=np.int32)
    th.readings(
        st, "gas_lel", d, np.zeros(1), np.zeros(1), np.array([9.0]), np.ones(1, bool), np.ones(1, int), out
    )
    assert out == []

    def each(mask: np.ndarray):  # type: ignore[no-untyped-def]
        yield from (int(i) for i in np.flatnonzero(mask))

    th.due(st, lambda c: c, each, 9.0, {"gas_lel": np.array([0.0, 0.0, 9.0])}, out)
    assert out == []
    th.due(st, lambda c: c, each, 60.0, {"gas_lel": np.array([0.0, 0.0, 9.0])}, out)
    assert [(s.rule, s.subject, s.on, s.ts, s.evidence.gas_lel) for s in out] == [
        ("GAS-EARLY", "d2", True, 10.0, 9.0)
    ]
