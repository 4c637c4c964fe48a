"""A household's view: only its own devices' alarms, mapped by the rule rows' traits, on until cleared."""

from __future__ import annotations

from alerts.rule import Family, Hazard, Severity
from alerts.rules import ROWS
from alerts.signals import Transition, TransitionKind, Where
from gateway.homeassistant.discovery import OFF, ON, DeviceCard
from gateway.homeassistant.home import Home
from gateway.homeassistant.states import LatestStates

CO_RULE = next(r.id for r in ROWS if r.hazard == Hazard.CO)
GAS_RULE = next(r.id for r in ROWS if r.hazard == Hazard.GAS)
HEALTH_RULE = next(r.id for r in ROWS if r.family == Family.HEALTH)
MINE = Where("t1", "b1", "b1-u1", "b1-u1-101")
NEIGHBOUR = Where("t1", "b1", "b1-u1", "b1-u1-102")


def _home() -> Home:
    cards = [
        DeviceCard("t1", "b1-u1-101", "s-1", "co_gas"),
        DeviceCard("t1", "b1-u1-101", "s-9", "co"),
        DeviceCard("t1", "b1-u1-101", "d-b1-u1", "door"),
    ]
    return Home("t1", "b1-u1-101", cards, LatestStates())


def _t(rule: str, subject: str, where: Where, kind: TransitionKind = "raised", n: int = 1) -> Transition:
    return Transition(ts=1.0, alarm_id=f"t1:{rule}:{subject}:{n}", rule=rule, severity=Severity.P1,
                      transition=kind, where=where, subject=subject, notify=())  # fmt: skip


def test_her_detector_alarm_turns_its_sensor_on_until_it_clears_and_acknowledging_keeps_it_on() -> None:
    h = _home()
    h.offer(_t(CO_RULE, "s-1", MINE))
    assert h.states.latest("gas-guardian/t1/s-1/co/state") == ON
    assert h.states.latest("gas-guardian/t1/s-9/co/state") == OFF
    assert h.open_alarms("s-1") == [f"t1:{CO_RULE}:s-1:1"] and h.open_alarms("s-9") == []
    h.offer(_t(CO_RULE, "s-1", MINE, "acknowledged"))
    assert h.states.latest("gas-guardian/t1/s-1/co/state") == ON and h.open_alarms("s-1") == []
    h.offer(_t(CO_RULE, "s-1", MINE, "cleared"))
    assert h.states.latest("gas-guardian/t1/s-1/co/state") == OFF


def test_a_neighbours_alarm_never_reaches_her_home_nor_her_units_door_alarms() -> None:
    h = _home()
    h.offer(_t(GAS_RULE, "s-2", NEIGHBOUR))
    h.offer(_t(CO_RULE, "s-1", Where("t2", "b1", "b1-u1", "b1-u1-101")))  # same ids, another site
    door_rule = next(r.id for r in ROWS if r.family == Family.DOORS)
    h.offer(_t(door_rule, "d-b1-u1", Where("t1", "b1", "b1-u1", "")))  # the unit's, not hers
    assert all(v != ON for v in (h.states.latest(t) for t in h.topics()))
    assert h.open_alarms("s-1") == [] and h.open_alarms("d-b1-u1") == []


def test_a_rule_that_must_never_sound_in_the_home_never_reaches_home_assistant() -> None:
    silent = next(r for r in ROWS if not r.siren)
    h = _home()
    h.offer(_t(silent.id, "s-1", MINE))
    assert h.open_alarms("s-1") == [] and all(v != ON for v in (h.states.latest(t) for t in h.topics()))


def test_a_household_alarm_shows_on_every_detector_with_the_hazard_and_health_on_problem() -> None:
    h = _home()
    h.offer(_t(CO_RULE, "b1-u1-101", MINE))
    assert h.states.latest("gas-guardian/t1/s-1/co/state") == ON
    assert h.states.latest("gas-guardian/t1/s-9/co/state") == ON
    assert h.open_alarms("s-9") == [f"t1:{CO_RULE}:s-1:1".replace("s-1", "b1-u1-101")]
    h.offer(_t(HEALTH_RULE, "s-9", MINE))
    assert h.states.latest("gas-guardian/t1/s-9/health/state") == ON
    h.health("s-1", False, "fault")
    assert h.states.latest("gas-guardian/t1/s-1/availability") == b"offline"
    assert h.states.latest("gas-guardian/t1/s-1/health/state") == ON
    h.health("s-1", True, "ok")
    assert h.states.latest("gas-guardian/t1/s-1/health/state") == OFF
