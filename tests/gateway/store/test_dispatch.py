"""Dispatch rules as data, on both store back ends: the most specific rule wins (category and building over
category and grid over category over the default), a filed order and an alarm's order go by them, a team's
member claims from its pool and someone else of the same role may not, a dispatcher's reassign says why
and is kept; a registry naming what does not exist is refused with the line."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.rule import Audience, Severity
from alerts.signals import Transition, Where
from gateway.errors import OrderRefused
from gateway.http.api.scope import Caller
from gateway.store import work_orders as wo
from gateway.store.db import Store
from gateway.store.dispatch import Rule, match
from gateway.store.order_desk import OrderDesk
from gateway.store.registry_import import import_registry
from sensors.registry import RegistryError, parse_registry
from simulators import estate


def test_the_most_specific_rule_wins_and_the_first_among_equals() -> None:
    rules = [
        Rule("everyone", position=0),
        Rule("site-crew", "battery", position=1),
        Rule("grid-crew", "battery", grid="g1", position=2),
        Rule("block-crew", "battery", building="b1", position=3),
        Rule("late-twin", "battery", building="b1", position=4),
    ]
    assert match(rules, "battery", "b1", "g1") == rules[3]  # the building's rule, the first of two
    assert match(rules, "battery", "b2", "g1") == rules[2]  # same grid, another building
    assert match(rules, "battery", "b9", "g9") == rules[1]  # the category's rule
    assert match(rules, "repair", "b1", "g1") == rules[0]  # the default
    assert match(rules[1:], "repair", "b1", "g1") is None  # no default: the community dispatches
    assert match([Rule("x", "battery", grid="g1")], "battery", "b1", "") is None  # a building of no grid
    assert [r.kind for r in rules[:4]] == ["default", "category", "category+grid", "category+building"]


def registry(**extra: Any) -> dict[str, Any]:
    reg = estate.small_estate(site="t1", buildings=2, units=1, households_per_unit=2)
    reg["grids"] = [
        {"id": "g1", "buildings": ["b1"], "officers": [{"id": "o-1"}]},
        {"id": "g2", "buildings": ["b2"], "officers": [{"id": "o-2"}]},
    ]
    reg["maintenance"] = [{"id": "m-1"}, {"id": "m-2"}]
    reg["teams"] = [{"id": "fitters", "name": "探测器班", "members": ["m-1"]}]
    reg["dispatch"] = [
        {"category": "detector_fault", "team": "maintenance"},
        {"category": "detector_fault", "grid": "g1", "team": "property"},
        {"category": "detector_fault", "building": "b1", "team": "fitters"},
        {"category": "repair", "grid": "g2", "team": "fitters"},
    ]
    return reg | extra


def test_a_registry_naming_what_does_not_exist_is_refused_with_the_line() -> None:
    bad = registry(
        teams=[{"id": "property", "members": []}, {"id": "crew", "members": ["m-9"]}],
        dispatch=[
            {"category": "battery", "building": "b7", "team": "crew"},
            {"category": "battery", "grid": "g1", "building": "b1", "team": "crew"},
            {"building": "b1", "team": "crew"},
            {"category": "repair", "team": "nobody"},
            {"category": "repair", "team": "crew"},
            {"category": "cooking", "team": "crew"},
        ],
    )
    with pytest.raises(RegistryError) as err:
        parse_registry(estate.dump(bad), "t1.yaml")
    assert "dispatch.5.category: Input should be" in err.value.problems[0], err.value.problems
    with pytest.raises(RegistryError) as err:
        parse_registry(estate.dump(bad | {"dispatch": bad["dispatch"][:5]}), "t1.yaml")
    text = "\n".join(err.value.problems)
    for expected in (
        "teams.0.id: team id 'property' is a team every site has",
        "teams.1.members.0: no staff member 'm-9'",
        "dispatch.0.building: no building 'b7'",
        "dispatch.1.grid: a rule names a building or a grid, not both",
        "dispatch.2.category: a rule for a building or a grid needs its category",
        "dispatch.3.team: no team 'nobody'",
        "dispatch.4: another rule already covers this case",
    ):
        assert expected in text, text
    assert all(p.startswith("t1.yaml:") and p.split(":")[1].isdigit() for p in err.value.problems)


def who(username: str, role: str, person: str | None = None) -> Caller:
    return Caller(username, role, "t1", person, None, None)


def fault(subject: str, ts: float) -> Transition:
    return Transition(
        ts=ts, alarm_id=f"t1:HLT-2:{subject}:{int(ts)}", rule="HLT-2", severity=Severity.P3,
        transition="raised", where=Where("t1", "", "", ""), subject=subject, notify=(Audience.RESIDENTS,),
    )  # fmt: skip


async def test_orders_go_by_the_rules_and_a_team_member_claims_from_its_pool(store: Store) -> None:
    await import_registry(store, parse_registry(estate.dump(registry()), "t1.yaml"))
    desk = OrderDesk(store)
    # an alarm's order: b1's detector fault goes to the fitters (the building's rule beats the grid's)
    job = await desk.take(fault("s-00001", 1000.0))
    assert job is not None and (job.state, job.assignee) == ("dispatched", "fitters")
    other = await desk.take(fault("s-00003", 1000.0))  # b2 (grid g2): the category's rule
    assert other is not None and (other.state, other.assignee) == ("dispatched", "maintenance")
    [opened] = await wo.events(store, job.id)
    assert opened.data == {
        "rule": "HLT-2",
        "assignee": "fitters",
        "dispatch_rule": 2,
        "by": "category+building",
    }

    # a filed order goes by them too; one no rule covers waits for the community
    res = who("res3", "resident", "p-00005")
    filed = await wo.create(
        store, res, wo.NewOrder("repair", "door closer", household="b2-u1-101"), now=1100.0
    )
    assert (filed.state, filed.assignee) == ("dispatched", "fitters")
    assert [(e.action, e.actor, e.to_state) for e in await wo.events(store, filed.id)] == [
        ("submit", "res3", "submitted"), ("dispatch", "guardian", "dispatched"),
    ]  # fmt: skip
    waiting = await wo.create(store, res, wo.NewOrder("battery", "chirps", household="b2-u1-101"), now=1100.0)
    assert (waiting.state, waiting.assignee) == ("submitted", "")

    # the pool: m-1 (fit1) is a fitter, m-2 (weld1) of the same role is not, nor is the property
    for outsider in (who("weld1", "maintenance", "m-2"), who("pm1", "property"), who("mnt1", "maintenance")):
        with pytest.raises(OrderRefused) as refused:
            await wo.act(store, outsider, job.id, "claim", wo.Step(), now=1200.0)
        assert refused.value.status == 403
    claimed = await wo.act(store, who("fit1", "maintenance", "m-1"), job.id, "claim", wo.Step(), now=1200.0)
    assert (claimed.state, claimed.assignee, claimed.claimed_ts) == ("claimed", "fit1", 1200.0)

    # a dispatcher moves it on, and must say why; the maintenance team's pool, not the fitter's any more
    officer = who("off1", "officer", "o-1")
    with pytest.raises(OrderRefused) as refused:
        await wo.act(store, officer, job.id, "reassign", wo.Step(assignee="maintenance"), now=1300.0)
    assert (refused.value.status, refused.value.detail) == (422, "reason: required for reassign")
    with pytest.raises(OrderRefused) as refused:  # a worker is no dispatcher
        await wo.act(store, who("fit1", "maintenance", "m-1"), job.id, "reassign",
                     wo.Step(assignee="maintenance", reason="x"), now=1300.0)  # fmt: skip
    assert refused.value.status == 403
    moved = await wo.act(
        store, who("pm1", "property"), job.id, "reassign",
        wo.Step(assignee="maintenance", reason="needs the ladder crew"), now=1300.0,
    )  # fmt: skip
    assert (moved.state, moved.assignee, moved.claimed_ts) == ("dispatched", "maintenance", 1200.0)
    assert (claimed.team, moved.team) == ("fitters", "maintenance")  # the team it was dispatched to, kept
    last = (await wo.events(store, job.id))[-1]
    assert (last.action, last.actor, last.note, last.data) == (
        "reassign", "pm1", "needs the ladder crew", {"assignee": "maintenance", "was": "fit1"},
    )  # fmt: skip
    again = await wo.act(store, who("weld1", "maintenance", "m-2"), job.id, "claim", wo.Step(), now=1400.0)
    assert again.assignee == "weld1"


async def test_an_accepted_order_goes_by_the_rules_and_a_bare_dispatch_too(store: Store) -> None:
    await import_registry(store, parse_registry(estate.dump(registry()), "t1.yaml"))
    res, officer = who("res1", "resident", "p-00001"), who("off1", "officer", "o-1")
    # filed before b1's rule existed: the rules now in force decide at accept
    await import_registry(store, parse_registry(estate.dump(registry(dispatch=[])), "t1.yaml"))
    early = await wo.create(
        store, res, wo.NewOrder("detector_fault", "beeps", household="b1-u1-101"), now=10.0
    )
    late = await wo.create(store, res, wo.NewOrder("detector_fault", "red", household="b1-u1-101"), now=10.0)
    assert early.state == late.state == "submitted"
    await import_registry(store, parse_registry(estate.dump(registry()), "t1.yaml"))
    accepted = await wo.act(store, officer, early.id, "accept", wo.Step(), now=20.0)
    assert (accepted.state, accepted.assignee) == ("dispatched", "fitters")
    assert [(e.action, e.from_state, e.to_state) for e in await wo.events(store, early.id)] == [
        ("submit", "", "submitted"), ("accept", "submitted", "accepted"), ("dispatch", "accepted", "dispatched"),
    ]  # fmt: skip
    # returned (退单) to the community: a dispatch naming nobody goes by the rules again
    fitter = who("fit1", "maintenance", "m-1")
    await wo.act(store, fitter, early.id, "return", wo.Step(reason="wrong detector model"), now=30.0)
    again = await wo.act(store, officer, early.id, "dispatch", wo.Step(), now=40.0)
    assert again.assignee == "fitters"
    await import_registry(store, parse_registry(estate.dump(registry(dispatch=[])), "t1.yaml"))
    await wo.act(store, officer, late.id, "accept", wo.Step(), now=50.0)
    with pytest.raises(OrderRefused) as refused:  # no rule, nobody named
        await wo.act(store, officer, late.id, "dispatch", wo.Step(), now=60.0)
    assert (refused.value.status, refused.value.detail) == (422, "assignee: required for dispatch")
    done = await wo.act(store, officer, late.id, "dispatch", wo.Step(assignee="fitters"), now=60.0)
    assert done.assignee == "fitters"  # a site team is a valid assignee by hand too
