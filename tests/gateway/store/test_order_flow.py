"""A work order's clocks in event time (days in microseconds): the claim clock runs until someone claims,
the resolve clock until it is resolved, a hold stops both, and every action row is reachable."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.store.order_flow import ACTIONS, CLOCKS, DAY, HOUR, STATES, clocks, may_claim, refusal
from gateway.store.schema import WorkOrder
from gateway.store.work_orders import Step, _changes, overdue


@dataclass(frozen=True)
class Who:
    username: str
    role: str
    site: str | None = "t1"


def order(category: str = "battery", priority: str = "P3", at: float = 0.0) -> WorkOrder:
    claim_s, resolve_s = clocks(category, priority)
    return WorkOrder(
        id="wo-x", site="t1", state="submitted", category=category, priority=priority, assignee="",
        claim_due_ts=at + claim_s, resolve_due_ts=at + resolve_s, held_since=None, held_s=0.0,
    )  # fmt: skip


def apply(o: WorkOrder, action: str, now: float, who: Who, **step: object) -> None:
    for k, v in _changes(o, action, ACTIONS[action].target, Step(**step), who, now).items():  # type: ignore[arg-type]
        setattr(o, k, v)


def test_the_claim_clock_stops_at_claim_and_a_hold_moves_both_clocks_on() -> None:
    o = order()
    assert overdue(o, DAY - 1) == [] and overdue(o, DAY + 1) == ["claim"]
    apply(o, "claim", DAY + 2, Who("pm1", "property"))
    assert overdue(o, DAY + 3) == []  # claimed, if late
    apply(o, "hold", 2 * DAY, Who("pm1", "property"))
    assert overdue(o, 30 * DAY) == []  # on hold: no clock runs
    apply(o, "resume", 5 * DAY, Who("pm1", "property"))
    assert o.held_s == 3 * DAY and o.resolve_due_ts == CLOCKS["battery"][1] + 3 * DAY
    assert overdue(o, 10 * DAY - 1) == [] and overdue(o, 10 * DAY + 1) == ["resolve"]
    apply(o, "resolve", 11 * DAY, Who("pm1", "property"), note="done")
    o.state = "resolved"
    assert overdue(o, 100 * DAY) == []


def test_a_p1_is_never_slower_than_fifteen_minutes_to_claim() -> None:
    assert clocks("battery", "P1") == (15 * 60, 2 * HOUR)
    assert clocks("gas_smell", "P3") == (15 * 60, 2 * HOUR)
    assert clocks("welfare_visit", "P1") == (15 * 60, 2 * HOUR)


def test_every_action_has_real_states_and_refuses_from_others() -> None:
    for name, a in ACTIONS.items():
        assert set(a.sources) <= set(STATES) and a.target in STATES, name
        for state in set(STATES) - set(a.sources):
            why = refusal(a, state=state, role="admin", username="root", assignee="", requester=True)
            assert why is not None and why[0] == 409, (name, state)


def test_a_team_claims_from_its_pool_a_person_only_their_own() -> None:
    assert may_claim("property", "property", "pm1") and not may_claim("property", "maintenance", "mnt1")
    assert may_claim("grid", "officer", "off1") and may_claim("mnt1", "maintenance", "mnt1")
    assert not may_claim("mnt1", "maintenance", "mnt2") and may_claim("anything", "admin", "root")
