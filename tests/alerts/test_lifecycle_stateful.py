"""The alarm lifecycle driven by hypothesis as a state machine: signals on and off, acknowledgements and the
clock in any order, and after every step the promises of standards §5 still hold:

- a latched alarm never clears unacknowledged;
- escalation is monotone: the audiences an alarm has reached only grow, escalations come in time order, and
  none comes after an acknowledgement;
- floods group P3/P4 alarms only; a P1 or P2 always stands alone and is told at once;
- nothing is stamped before the moment that caused it, or after the clock;
- no two alarms share an id, even raised again within one millisecond after an acknowledgement;
- the same history gives the same alarm ids and the same transitions (live and replay agree).
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from alerts.evidence import Reading
from alerts.lifecycle import Lifecycle
from alerts.rule import Audience, Severity
from alerts.rules import RULES
from alerts.settings import AlertSettings
from alerts.signals import Acknowledgement, Signal, Transition, Where

# latched P1s, a P2, P3s that a flood groups, a momentary door rule, a P4
RULE_IDS = ["CO-1", "GAS-2", "GAS-1", "HLT-2", "DR-2", "DR-3", "GAS-3", "HLT-5"]
SUBJECTS = [f"s-{i:02d}" for i in range(14)]
T0 = 1_800_000_000.0


def fresh() -> Lifecycle:
    return Lifecycle({}, AlertSettings())


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.life = fresh()
        self.now = T0
        self.inputs: list[tuple[str, Any]] = []
        self.out: list[Transition] = []
        self.acked: set[str] = set()
        self.closed: set[str] = set()
        self.reached: dict[str, set[Audience]] = {}
        self.last_escalation: dict[str, float] = {}
        self.raised: set[str] = set()

    # -- what the world does ------------------------------------------------------------------------

    def _take(self, transitions: list[Transition], cause_ts: float) -> None:
        for t in transitions:
            assert cause_ts - 1e-9 <= t.ts <= self.now + 1e-9, (t, cause_ts, self.now)
            self._check(t)
            self.out.append(t)

    @rule(
        rule_id=st.sampled_from(RULE_IDS),
        subject=st.sampled_from(SUBJECTS),
        building=st.sampled_from(["b1", "b2"]),
        on=st.booleans(),
    )
    def signal(self, rule_id: str, subject: str, building: str, on: bool) -> None:
        s = Signal(
            ts=self.now,
            rule=rule_id,
            subject=subject,
            on=on,
            where=Where("t1", building, f"{building}-u1", f"{building}-u1-{subject}"),
            evidence=Reading(value=1.0),
        )
        self.inputs.append(("signal", s))
        self._take(self.life.signal(s), self.now)

    @precondition(lambda self: bool(self.life.by_id))
    @rule(pick=st.integers(min_value=0, max_value=10_000), by=st.sampled_from(["t1/pm-1", "t1/p-1"]))
    def acknowledge(self, pick: int, by: str) -> None:
        ids = sorted(self.life.by_id)
        a = Acknowledgement(ts=self.now, by=by, alarm_id=ids[pick % len(ids)])
        self.inputs.append(("ack", a))
        self._take(self.life.acknowledge(a), self.now)

    @rule(dt=st.sampled_from([1.0, 15.0, 60.0, 299.0, 301.0, 900.0, 3600.0]))
    def wait(self, dt: float) -> None:
        before = self.now
        self.now += dt
        self.inputs.append(("advance", self.now))
        self._take(self.life.advance(self.now), before)

    # -- what must hold -----------------------------------------------------------------------------

    def _check(self, t: Transition) -> None:
        rule_ = RULES[t.rule]
        if t.transition == "raised":
            assert t.alarm_id not in self.raised, f"two alarms share the id {t.alarm_id}"
            self.raised.add(t.alarm_id)
        if t.transition == "acknowledged":
            self.acked.add(t.alarm_id)
        if t.transition == "cleared" and rule_.latch:
            assert t.alarm_id in self.acked, f"latched {t.alarm_id} cleared unacknowledged"
        if t.transition == "escalated":
            assert t.alarm_id not in self.acked, f"{t.alarm_id} escalated after its acknowledgement"
            assert t.ts >= self.last_escalation.get(t.alarm_id, -1.0)
            self.last_escalation[t.alarm_id] = t.ts
        if t.group is not None:
            assert t.severity >= Severity.P3, f"a {t.severity} alarm was grouped into {t.group}"
        if t.transition == "raised" and t.severity <= Severity.P2 and not t.rule.startswith("SYS-"):
            assert t.group is None and t.notify, f"{t.alarm_id} raised without telling anyone"

    @invariant()
    def audiences_only_grow(self) -> None:
        for alarm_id, alarm in self.life.by_id.items():
            now = set(alarm.notified)
            assert self.reached.get(alarm_id, set()) <= now, alarm_id
            self.reached[alarm_id] = now

    @invariant()
    def a_latched_alarm_stands_until_acknowledged(self) -> None:
        for t in self.out:
            if t.transition == "raised" and RULES[t.rule].latch and t.alarm_id not in self.acked:
                assert t.alarm_id in self.life.by_id, f"latched {t.alarm_id} gone unacknowledged"

    def teardown(self) -> None:
        """Replay the same inputs into a fresh lifecycle: the same transitions, with the same ids."""
        again = fresh()
        out: list[Transition] = []
        for kind, item in self.inputs:
            if kind == "signal":
                out += again.signal(item)
            elif kind == "ack":
                out += again.acknowledge(item)
            else:
                out += again.advance(item)
        assert [(t.alarm_id, t.transition, t.ts, t.notify) for t in out] == [
            (t.alarm_id, t.transition, t.ts, t.notify) for t in self.out
        ]


LifecycleMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
test_alarm_lifecycle_keeps_its_promises = LifecycleMachine.TestCase


def test_an_alarm_raised_again_in_the_same_millisecond_gets_its_own_id() -> None:
    """A door alarm acknowledged (and so closed) and raised again in the same batch's millisecond."""
    life = fresh()
    where = Where("t1", "b1", "b1-u1", "b1-u1-d1")
    ids = []
    for _ in range(3):
        s = Signal(ts=T0, rule="DR-3", subject="d1", on=True, where=where, evidence=Reading(value=1.0))
        raised = [t for t in life.signal(s) if t.transition == "raised"]
        ids.append(raised[0].alarm_id)
        closed = life.acknowledge(Acknowledgement(ts=T0, by="t1/pm-1", alarm_id=raised[0].alarm_id))
        assert any(t.transition == "cleared" for t in closed)
    assert len(set(ids)) == 3, ids
    assert ids[0] == "t1:DR-3:d1:1800000000000"
