"""A work order's life as data: its states, each action as a row (from which states, to which, who may, what
it needs), and the two clocks per category. No I/O: `gateway.store.work_orders` applies it.

The states follow China's 12345 service-request process and helpdesk systems (GLPI, Zammad): a resident (or
staff) submits, the community accepts and dispatches (派单) to a team or a person, the assignee claims it
(签收) or returns it with a reason (退单), works on it, may put it on hold (the clock stops), resolves it
with what was done, the resident or the community verifies it with a rating (回访), the community closes
it. A verified or closed order can be reopened; one not yet dispatched can be cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from sensors.registry import ROLE_TEAMS, JobCategory

State = Literal[
    "submitted",
    "accepted",
    "dispatched",
    "claimed",
    "in_progress",
    "on_hold",
    "resolved",
    "verified",
    "closed",
    "cancelled",
]
STATES: tuple[State, ...] = get_args(State)
FINISHED: frozenset[str] = frozenset({"resolved", "verified", "closed", "cancelled"})
"""The work is done (or dropped): neither clock runs."""
UNCLAIMED: frozenset[str] = frozenset({"submitted", "accepted", "dispatched"})
"""The claim clock runs."""

Category = Literal[
    "gas_smell", "detector_fault", "battery", "end_of_life", "door_fault", "welfare_visit", "repair", "other"
]
CATEGORIES: tuple[Category, ...] = get_args(Category)
PRIORITIES = ("P1", "P2", "P3", "P4")
NAMES: dict[str, tuple[str, str]] = {
    # category: (Chinese, English), as the daily report names them for people
    "gas_smell": ("燃气异味", "Gas smell"),
    "detector_fault": ("探测器故障", "Detector fault"),
    "battery": ("探测器电池", "Detector battery"),
    "end_of_life": ("探测器到期", "Detector end of life"),
    "door_fault": ("门禁故障", "Door fault"),
    "welfare_visit": ("上门关怀", "Welfare visit"),
    "repair": ("维修", "Repair"),
    "other": ("其他", "Other"),
}

HOUR = 3600.0
DAY = 24 * HOUR
CLOCKS: dict[str, tuple[float, float]] = {
    # category: (seconds to claim, seconds to resolve), from submission, on-hold time not counted
    "gas_smell": (15 * 60, 2 * HOUR),
    "detector_fault": (4 * HOUR, 3 * DAY),
    "battery": (DAY, 7 * DAY),
    "end_of_life": (2 * DAY, 14 * DAY),
    "door_fault": (2 * HOUR, DAY),
    "welfare_visit": (2 * HOUR, DAY),
    "repair": (DAY, 7 * DAY),
    "other": (DAY, 7 * DAY),
}
P1_CLOCK = (15 * 60, 2 * HOUR)
"""A P1 order (a gas or CO alarm's, a gas smell) is never slower than this, whatever its category."""

COMMUNITY = frozenset({"officer", "admin"})
DISPATCHERS = COMMUNITY | {"property"}
"""Who may move an order from one team or person to another: the community, and the property's control
room, which runs its own crews (a reassign always says why)."""
WORKERS = frozenset({"property", "maintenance", "officer", "admin"})
VERIFIERS = frozenset({"resident", "officer", "admin"})
TEAMS: dict[str, frozenset[str]] = {
    # a dispatch to a team: any member (these roles) may claim it from the pool
    "property": frozenset({"property"}),
    "maintenance": frozenset({"maintenance"}),
    "grid": frozenset({"officer"}),
}

TEAM_NAMES: dict[str, tuple[str, str]] = {
    "property": ("物业", "property"),
    "maintenance": ("维修", "maintenance"),
    "grid": ("网格员", "grid officers"),
}
"""The role teams by name (a site's own teams have theirs in its registry)."""

Need = Literal["reason", "note", "assignee", "rating"]


@dataclass(frozen=True, slots=True)
class Action:
    sources: tuple[State, ...]
    target: State
    roles: frozenset[str]
    needs: tuple[Need, ...] = ()
    assignee_only: bool = False
    """Only the order's assignee may (a member of the team it is dispatched to, the person who claimed it,
    or an admin): the work is theirs."""
    requester_only_for: frozenset[str] = frozenset()
    """For these roles, only the person who asked."""


ActionName = Literal[
    "accept", "dispatch", "reassign", "claim", "return", "start", "hold", "resume", "resolve", "verify",
    "close", "reopen", "cancel",
]  # fmt: skip
ACTIONS: dict[str, Action] = {
    "accept": Action(("submitted",), "accepted", COMMUNITY),
    "dispatch": Action(("accepted",), "dispatched", COMMUNITY, ("assignee",)),
    "reassign": Action(
        ("dispatched", "claimed", "in_progress", "on_hold"), "dispatched", DISPATCHERS, ("assignee", "reason")
    ),
    "claim": Action(("dispatched",), "claimed", WORKERS),
    "return": Action(("dispatched", "claimed"), "accepted", WORKERS, ("reason",), assignee_only=True),
    "start": Action(("claimed",), "in_progress", WORKERS, assignee_only=True),
    "hold": Action(("in_progress",), "on_hold", WORKERS, ("reason",), assignee_only=True),
    "resume": Action(("on_hold",), "in_progress", WORKERS, assignee_only=True),
    "resolve": Action(("claimed", "in_progress"), "resolved", WORKERS, ("note",), assignee_only=True),
    "verify": Action(("resolved",), "verified", VERIFIERS, ("rating",)),
    "close": Action(("verified",), "closed", COMMUNITY),
    "reopen": Action(("resolved", "verified", "closed"), "accepted", VERIFIERS, ("reason",)),
    "cancel": Action(
        ("submitted", "accepted"),
        "cancelled",
        COMMUNITY | {"resident"},
        ("reason",),
        requester_only_for=frozenset({"resident"}),
    ),
}


def clocks(category: str, priority: str) -> tuple[float, float]:
    claim, resolve = CLOCKS[category]
    if priority == "P1":
        claim, resolve = min(claim, P1_CLOCK[0]), min(resolve, P1_CLOCK[1])
    return claim, resolve


def may_claim(
    assignee: str, role: str, username: str, members: frozenset[str] | None = None, person: str | None = None
) -> bool:
    """A team's order by any member of it; a person's by that person; an admin's always. `members`: the
    site team's (its registry `teams`), when the assignee is one; a role team's members are its roles."""
    if role == "admin":
        return True
    if members is not None:
        return role in WORKERS and (username in members or (person is not None and person in members))
    team = TEAMS.get(assignee)
    return role in team if team is not None else assignee == username


def refusal(
    action: Action,
    *,
    state: str,
    role: str,
    username: str,
    assignee: str,
    requester: bool,
    members: frozenset[str] | None = None,
    person: str | None = None,
) -> tuple[int, str] | None:
    """(HTTP status, why) the caller may not do this now, or None. The state is checked first: a claim that
    lost a race says the order was already claimed (409), not that the caller may not claim (403)."""
    if state not in action.sources:
        return 409, f"the order is {state}; this needs it {' or '.join(action.sources)}"
    if role not in action.roles:
        return 403, f"not for the {role} role"
    if role in action.requester_only_for and not requester:
        return 403, "only the person who asked may"
    if action.assignee_only and not may_claim(assignee, role, username, members, person):
        return 403, "only the order's assignee may"
    return None


assert set(ACTIONS) == set(get_args(ActionName)), "every action row is named in ActionName"
assert set(CLOCKS) == set(CATEGORIES), "every category has its clocks"
assert set(NAMES) == set(CATEGORIES), "every category has its names"
assert set(get_args(JobCategory)) == set(CATEGORIES), "the registry's dispatch rules know every category"
assert set(TEAMS) == set(ROLE_TEAMS) == set(TEAM_NAMES), "the registry knows the teams every site has"
