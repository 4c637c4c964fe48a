"""Work orders in the store: made, moved through `order_flow`'s actions, read within the caller's scope.

Every change is one transaction: a compare-and-set on the order's state (two officers claiming the same
order at once: one wins, the other gets 409 with the state it found) and an appended event. An order is
placed in the estate from what it concerns (a household, a device, or a building), looked up in the store,
so a caller cannot file an order for a home outside their scope: it answers 404 as if it did not exist.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, case, or_, select, update

from gateway.errors import OrderRefused
from gateway.store import dispatch
from gateway.store.db import Store
from gateway.store.order_flow import (
    ACTIONS,
    FINISHED,
    PRIORITIES,
    TEAMS,
    UNCLAIMED,
    WORKERS,
    clocks,
    may_claim,
    refusal,
)
from gateway.store.schema import Account, Building, Device, Household, Team, WorkOrder, WorkOrderEvent

DISPATCHER = "guardian"
"""The actor of a dispatch the site's rules made (`gateway.store.dispatch`)."""


class Caller(Protocol):
    """Who acts, and what they may see (`gateway.http.api.scope.Caller` is one)."""

    @property
    def username(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def site(self) -> str | None: ...
    @property
    def person(self) -> str | None: ...
    @property
    def recipient(self) -> str: ...
    def sees(self, site: str, building: str = "", household: str = "") -> bool: ...
    def where(self, model: Any) -> ColumnElement[bool]: ...


@dataclass(frozen=True, slots=True)
class NewOrder:
    category: str
    description: str
    priority: str | None = None
    site: str | None = None
    household: str = ""
    building: str = ""
    unit: str = ""
    device: str = ""
    alarm_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    """What an action carries; which of these it needs is `order_flow.ACTIONS[action].needs`."""

    reason: str = ""
    note: str = ""
    assignee: str = ""
    rating: int | None = None


OrderListener = Callable[[WorkOrder, WorkOrderEvent], None]
"""Told of every change after it is committed (the order as it is now, and the event appended): the
order-clock watcher listens. Synchronous and cheap; given by the caller, as the alarm stage's listeners."""


def _tell(listeners: Iterable[OrderListener], order: WorkOrder, event: WorkOrderEvent) -> None:
    for listen in listeners:
        listen(order, event)


def new_id(now: float) -> str:
    return f"wo-{time.strftime('%Y%m%d', time.gmtime(now))}-{secrets.token_hex(4)}"


async def _place(store: Store, caller: Caller, site: str, new: NewOrder) -> tuple[str, str, str, str]:
    """(building, unit, household, device) the order concerns, from the store; 404 outside the scope."""
    async with store.session() as s:
        if new.device:
            d = await s.get(Device, (site, new.device))
            if d is None or (new.household and d.household != new.household):
                raise OrderRefused(404, "no such device")
            building, unit, household = d.building, d.unit, d.household
        elif new.household:
            h = await s.get(Household, (site, new.household))
            if h is None:
                raise OrderRefused(404, "no such household")
            building, unit, household = h.building, h.unit, h.id
        elif new.building:
            b = await s.get(Building, (site, new.building))
            if b is None:
                raise OrderRefused(404, "no such building")
            building, unit, household = b.id, new.unit, ""
        else:
            raise OrderRefused(422, "household: one of household, device or building is required")
    if caller.role == "resident" and not household:
        raise OrderRefused(422, "household: a resident's request is for one of her homes")
    if not caller.sees(site, building, household):
        raise OrderRefused(404, "no such household" if household else "no such building")
    return building, unit, household, new.device


def fresh_order(
    *,
    site: str,
    building: str,
    unit: str,
    household: str,
    device: str,
    category: str,
    priority: str,
    description: str,
    state: str,
    requester: str,
    requester_account: str,
    assignee: str,
    alarm_ids: list[str],
    cause: str,
    now: float,
) -> WorkOrder:
    """A new order with its clocks started at `now`: one constructor for orders people file and orders
    alarms open (`gateway.store.order_desk`)."""
    claim_s, resolve_s = clocks(category, priority)
    return WorkOrder(
        id=new_id(now), site=site, building=building, unit=unit, household=household, device=device,
        category=category, priority=priority, description=description, state=state, requester=requester,
        requester_account=requester_account, assignee=assignee, team=assignee, alarm_ids=alarm_ids,
        cause=cause, created_ts=now, updated_ts=now, claim_due_ts=now + claim_s,
        resolve_due_ts=now + resolve_s, claimed_ts=None, resolved_ts=None, held_since=None, held_s=0.0,
        resolution="", rating=None,
    )  # fmt: skip


async def create(
    store: Store, caller: Caller, new: NewOrder, *, now: float, listeners: Iterable[OrderListener] = ()
) -> WorkOrder:
    site = caller.site or new.site
    if not site:
        raise OrderRefused(422, "site: required")
    if new.site and new.site != site:
        raise OrderRefused(404, "no such site")
    building, unit, household, device = await _place(store, caller, site, new)
    # a gas smell is a P1 whoever files it, and whatever they chose
    priority = "P1" if new.category == "gas_smell" else (new.priority or "P3")
    if priority not in PRIORITIES:
        raise OrderRefused(422, f"priority: one of {', '.join(PRIORITIES)}")
    async with store.session() as s:
        rule = await dispatch.route(s, site, new.category, building)
    order = fresh_order(
        site=site, building=building, unit=unit, household=household, device=device, category=new.category,
        priority=priority, description=new.description, state="dispatched" if rule else "submitted",
        requester=caller.recipient, requester_account=caller.username, assignee=rule.team if rule else "",
        alarm_ids=list(new.alarm_ids), cause="", now=now,
    )  # fmt: skip
    event = _event(order.id, now, caller, "submit", "", "submitted", new.description[:500], {})
    async with store.session() as s, s.begin():
        s.add(order)
        s.add(event)
        if rule is not None:
            event = ruled(order.id, now, "submitted", rule)
            s.add(event)
    _tell(listeners, order, event)
    return order


def ruled(order_id: str, now: float, src: str, rule: dispatch.Rule) -> WorkOrderEvent:
    """The event of a dispatch the site's rules made: which team, by which rule."""
    return WorkOrderEvent(
        order_id=order_id, ts=now, actor=DISPATCHER, action="dispatch", from_state=src, to_state="dispatched",
        note=f"by rule: {rule.kind}", data={"assignee": rule.team, "rule": rule.position},
    )  # fmt: skip


def _event(
    order_id: str,
    now: float,
    caller: Caller,
    action: str,
    src: str,
    dst: str,
    note: str,
    data: dict[str, Any],
) -> WorkOrderEvent:
    return WorkOrderEvent(
        order_id=order_id, ts=now, actor=caller.username, action=action, from_state=src, to_state=dst,
        note=note, data=data,
    )  # fmt: skip


async def visible(store: Store, caller: Caller, order_id: str) -> WorkOrder:
    async with store.session() as s:
        order = await s.scalar(select(WorkOrder).where(WorkOrder.id == order_id, caller.where(WorkOrder)))
    if order is None:
        raise OrderRefused(404, "no such work order")
    return order


async def events(store: Store, order_id: str) -> list[WorkOrderEvent]:
    async with store.session() as s:
        q = select(WorkOrderEvent).where(WorkOrderEvent.order_id == order_id).order_by(WorkOrderEvent.id)
        return list((await s.scalars(q)).all())


async def _check_assignee(store: Store, order: WorkOrder, assignee: str) -> None:
    if assignee in TEAMS:
        return
    async with store.session() as s:
        if await s.get(Team, (order.site, assignee)) is not None:
            return
        account = await s.get(Account, assignee)
    if (
        account is None
        or account.disabled
        or account.role not in WORKERS
        or account.site not in (order.site, None)
    ):
        raise OrderRefused(422, f"assignee: no team or staff account {assignee!r} for this site")


async def act(
    store: Store,
    caller: Caller,
    order_id: str,
    action: str,
    step: Step,
    *,
    now: float,
    listeners: Iterable[OrderListener] = (),
) -> WorkOrder:
    rule = ACTIONS.get(action)
    if rule is None:
        raise OrderRefused(404, f"no action {action!r}")
    order = await visible(store, caller, order_id)
    members = await dispatch.members(store, order.site, order.assignee)
    why = refusal(
        rule,
        state=order.state,
        role=caller.role,
        username=caller.username,
        assignee=order.assignee,
        requester=order.requester_account == caller.username,
        members=members,
        person=caller.person,
    )
    if why is not None:
        raise OrderRefused(*why)
    if action == "claim" and not may_claim(
        order.assignee, caller.role, caller.username, members, caller.person
    ):
        raise OrderRefused(403, f"dispatched to {order.assignee}, not to you")
    by_rule = None
    if action in ("accept", "dispatch") and not step.assignee.strip():
        # accepted (or dispatched without naming anyone): the site's rules say where it goes
        async with store.session() as s:
            by_rule = await dispatch.route(s, order.site, order.category, order.building)
        if by_rule is not None:
            step = Step(reason=step.reason, note=step.note, assignee=by_rule.team, rating=step.rating)
    for need in rule.needs:
        if need in ("reason", "note", "assignee") and not getattr(step, need).strip():
            raise OrderRefused(422, f"{need}: required for {action}")
        if need == "rating" and step.rating is None:
            raise OrderRefused(422, "rating: required for verify (1 to 5)")
    if "assignee" in rule.needs:
        await _check_assignee(store, order, step.assignee)
    changes = _changes(order, action, rule.target, step, caller, now)
    if action == "accept" and by_rule is not None:
        changes.update(state="dispatched", assignee=by_rule.team, team=by_rule.team)
    async with store.session() as s, s.begin():
        done = await s.execute(
            update(WorkOrder)
            .where(WorkOrder.id == order.id, WorkOrder.state == order.state)
            .values(**changes)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            now_state = await s.scalar(select(WorkOrder.state).where(WorkOrder.id == order.id))
            raise OrderRefused(409, f"the order changed meanwhile: it is {now_state} now")
        data: dict[str, Any] = {k: v for k, v in (("assignee", step.assignee), ("rating", step.rating)) if v}
        if action == "reassign":
            data["was"] = order.assignee
        if by_rule is not None and action == "dispatch":
            data["rule"] = by_rule.position
        if action == "accept":
            data = {}
        note = step.reason or step.note
        event = _event(order.id, now, caller, action, order.state, rule.target, note, data)
        s.add(event)
        if action == "accept" and by_rule is not None:
            event = ruled(order.id, now, "accepted", by_rule)
            s.add(event)
    changed = await visible(store, caller, order_id)
    _tell(listeners, changed, event)
    return changed


def _changes(
    order: WorkOrder, action: str, target: str, step: Step, caller: Caller, now: float
) -> dict[str, Any]:
    c: dict[str, Any] = {"state": target, "updated_ts": now}
    if action in ("dispatch", "reassign"):
        c.update(assignee=step.assignee, team=step.assignee)
    elif action == "claim":
        c.update(assignee=caller.username, claimed_ts=now)
    elif action == "return":
        c.update(assignee="", claimed_ts=None)
    elif action == "hold":
        c["held_since"] = now
    elif action == "resume":
        held = max(0.0, now - (order.held_since or now))
        c.update(
            held_since=None,
            held_s=order.held_s + held,
            claim_due_ts=order.claim_due_ts + held,
            resolve_due_ts=order.resolve_due_ts + held,
        )
    elif action == "resolve":
        c.update(resolved_ts=now, resolution=step.note)
    elif action == "verify":
        c["rating"] = step.rating
    elif action == "reopen":  # a new round of work, on fresh clocks
        claim_s, resolve_s = clocks(order.category, order.priority)
        c.update(
            assignee="", claimed_ts=None, resolved_ts=None, rating=None, claim_due_ts=now + claim_s,
            resolve_due_ts=now + resolve_s,
        )  # fmt: skip
    return c


def overdue(order: WorkOrder, now: float) -> list[str]:
    """Which clocks have run out: `claim` (nobody took it in time), `resolve` (not done in time)."""
    if order.state in FINISHED or order.held_since is not None:
        return []
    late = []
    if order.state in UNCLAIMED and now > order.claim_due_ts:
        late.append("claim")
    if now > order.resolve_due_ts:
        late.append("resolve")
    return late


def overdue_at(now: float) -> ColumnElement[bool]:
    """`overdue` as a query condition, so a page of overdue orders counts right."""
    running = and_(WorkOrder.state.not_in(sorted(FINISHED)), WorkOrder.held_since.is_(None))
    late = or_(
        WorkOrder.resolve_due_ts < now,
        and_(WorkOrder.state.in_(sorted(UNCLAIMED)), WorkOrder.claim_due_ts < now),
    )
    return and_(running, late)


def board_order() -> tuple[Any, ...]:
    """Open orders first, the most urgent (earliest due) first among them; finished ones newest first."""
    finished = case((WorkOrder.state.in_(sorted(FINISHED)), 1), else_=0)
    return finished, WorkOrder.resolve_due_ts, WorkOrder.created_ts.desc()
