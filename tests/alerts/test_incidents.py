from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alerts.incidents import Member, incident_of, incidents
from alerts.rule import Hazard
from alerts.rules import RULES

T0 = 1_800_000_000.0


def alarm(rule: str, ts: float, *, home: str = "b1-u1-101", state: str = "active", **kw: object) -> Member:
    return Member(
        alarm_id=f"t1:{rule}:{home}:{round(ts * 1000)}",
        rule=rule,
        severity=str(RULES[rule].severity),
        state=state,
        site="t1",
        building="b1",
        unit="b1-u1",
        household=home,
        raised_ts=ts,
        updated_ts=kw.pop("updated_ts", ts),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def test_a_leak_rising_through_three_rules_is_one_incident_at_its_worst():
    leak = [alarm("GAS-3", T0), alarm("GAS-1", T0 + 40), alarm("GAS-2", T0 + 90)]
    [one] = incidents(leak)
    assert one.hazard is Hazard.GAS and one.severity == "P1" and one.state == "active"
    assert [m.rule for m in one.members] == ["GAS-2", "GAS-1", "GAS-3"]
    assert one.started_ts == T0 and one.incident_id == f"t1:b1-u1-101:gas:{round(T0 * 1000)}"
    assert one.advice is not None and one.advice.call == "119"
    assert len(one.unacknowledged) == 3


def test_acknowledged_once_every_open_alarm_is_taken():
    leak = [
        alarm("GAS-1", T0, acked_ts=T0 + 100, state="acknowledged"),
        alarm("GAS-2", T0 + 30),
    ]
    assert incidents(leak)[0].state == "active"
    leak[1] = alarm("GAS-2", T0 + 30, acked_ts=T0 + 100, state="acknowledged")
    assert incidents(leak)[0].state == "acknowledged"
    # over but nobody answered: "returned", still open
    gone = [alarm("CO-1", T0, state="returned")]
    assert incidents(gone)[0].state == "returned" and incidents(gone)[0].open


def test_the_severity_is_of_what_is_still_open():
    alarms = [
        alarm("GAS-2", T0, state="resolved", acked_ts=T0 + 5, over_ts=T0 + 600),
        alarm("GAS-1", T0 + 300),  # raised while the P1 was still open: the same leak
    ]
    [one] = incidents(alarms)
    assert one.severity == "P2" and len(one.members) == 2


def test_a_leak_after_the_last_one_was_over_is_a_new_incident():
    first = alarm("GAS-1", T0, state="resolved", acked_ts=T0 + 5, over_ts=T0 + 600)
    second = alarm("GAS-1", T0 + 3600)
    found = incidents([first, second])
    assert len(found) == 2
    assert found[0].open and found[0].members == (second,)  # open ones first
    assert not found[1].open


def test_hazards_and_homes_stay_apart_and_other_alarms_stand_alone():
    alarms = [
        alarm("GAS-1", T0),
        alarm("CO-1", T0 + 1),
        alarm("GAS-1", T0 + 2, home="b1-u1-102"),
        alarm("HLT-3", T0 + 3),  # a battery: no hazard
    ]
    found = incidents(alarms)
    assert len(found) == 4
    by_hazard = sorted(str(i.hazard) for i in found)
    assert by_hazard == ["None", "co", "gas", "gas"]
    battery = next(i for i in found if i.hazard is None)
    assert battery.incident_id == alarms[3].alarm_id and battery.advice is None
    assert [i.severity for i in found][:1] == ["P1"]  # worst first


def test_nobody_home_with_gas_joins_the_open_leak_else_stands_alone():
    leak = alarm("GAS-1", T0)
    away = alarm("WEL-3", T0 + 60)
    [one] = incidents([leak, away])
    assert {m.rule for m in one.members} == {"GAS-1", "WEL-3"} and one.hazard is Hazard.GAS
    [alone] = incidents([away])
    assert alone.hazard is Hazard.AIR and alone.advice is None


def test_an_incident_is_found_again_by_its_id():
    leak = [alarm("GAS-3", T0), alarm("GAS-2", T0 + 90)]
    [one] = incidents(leak)
    assert incident_of(leak, one.incident_id) == one
    assert incident_of(leak, "t1:b1-u1-101:gas:1") is None


RULE_IDS = ["GAS-1", "GAS-2", "GAS-3", "CO-1", "CO-2", "CO-4", "WEL-3", "HLT-3", "DR-1"]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(RULE_IDS), st.integers(0, 7200), st.booleans(), st.sampled_from(["a", "b"])
        ),
        min_size=1,
        max_size=12,
        unique_by=lambda x: (x[0], x[1], x[3]),
    ),
    st.randoms(use_true_random=False),
)
def test_the_same_alarms_give_the_same_incidents_in_any_order(rows, rnd):
    alarms = [
        alarm(rule, T0 + t, home=f"b1-u1-{h}", state="closed" if over else "active",
              over_ts=T0 + t + 300 if over else None)
        for rule, t, over, h in rows
    ]  # fmt: skip
    shuffled = alarms[:]
    rnd.shuffle(shuffled)
    first, again = incidents(alarms), incidents(shuffled)
    assert [(i.incident_id, i.members) for i in first] == [(i.incident_id, i.members) for i in again]
    assert sorted(m.alarm_id for i in first for m in i.members) == sorted(a.alarm_id for a in alarms)
    for i in first:
        assert len({(m.site, m.household) for m in i.members}) == 1
        assert i.severity == min(m.severity for m in i.members if m.open or not i.open)
