"""Work orders (居民点单、社区派单、物业接单): a resident or staff files one, the community dispatches it,
a team member claims and does it, the resident or the community verifies it.

`POST /work-orders` files one for a household, device or building in the caller's scope; `POST
/work-orders/{id}/{action}` moves it (`gateway.store.order_flow.ACTIONS`: accept, dispatch, reassign, claim,
return, start, hold, resume, resolve, verify, close, reopen, cancel). 403: not for this caller; 409: not
from the order's state (a claim that lost a race says what the order is now); 422: what the action needs
is missing or not valid. Orders outside the caller's scope answer 404 as if they did not exist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from alerts.incidents import ADVICE
from alerts.rule import Hazard
from gateway.errors import OrderRefused
from gateway.http.api.context import ApiContext
from gateway.http.api.deps import Ctx, Me, Page, not_found, page, paged, role
from gateway.http.api.models import Out, errors
from gateway.http.api.names import building_names, person_names, place
from gateway.http.api.scope import SEES_PEOPLE, STAFF, Caller
from gateway.store import dispatch, order_points
from gateway.store import work_orders as wo
from gateway.store.order_flow import FINISHED, TEAMS, ActionName, Category, State
from gateway.store.schema import Account, WorkOrder, WorkOrderEvent, WorkOrderPhoto
from sensors.wire import ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["work orders"], responses=errors(401, 403, 404, 409, 413, 422))
OrderId = Annotated[str, Path(pattern=r"^wo-[0-9]{8}-[0-9a-f]{8}$")]
OptionalId = Annotated[str, Field(max_length=64, pattern=f"^$|{ID_PATTERN}")]


class OrderIn(BaseModel):
    model_config = {"extra": "forbid"}
    category: Category
    description: str = Field(min_length=1, max_length=2000)
    priority: Literal["P1", "P2", "P3", "P4"] | None = Field(
        None, description="default P3; a gas smell is P1"
    )
    site: OptionalId | None = Field(None, description="only for an admin, whose account has no site")
    household: OptionalId = ""
    device: OptionalId = ""
    building: OptionalId = ""
    unit: OptionalId = ""
    alarm_ids: list[Annotated[str, Field(max_length=300)]] = Field(default_factory=list, max_length=20)


class StepIn(BaseModel):
    model_config = {"extra": "forbid"}
    reason: str = Field("", max_length=1000, description="return, hold, reopen, cancel")
    note: str = Field("", max_length=2000, description="resolve: what was done")
    assignee: str = Field(
        "",
        max_length=64,
        description="dispatch, reassign: a team (property, maintenance, grid, or one of the site's teams) or"
        " a staff account; dispatch without one goes by the site's dispatch rules",
    )
    rating: int | None = Field(None, ge=1, le=5, description="verify: 1 to 5")


class AdviceOut(Out):
    title: str
    title_zh: str
    steps: list[str]
    steps_zh: list[str]
    call: str


class OrderOut(Out):
    id: str
    site: str
    building: str
    unit: str
    household: str
    device: str
    place: str = Field(description="where, as people say it: Building 3, unit 2, 1504")
    place_zh: str = Field(description="3栋2单元1504")
    category: str
    priority: str
    description: str
    state: str
    requester: str = Field(description="who asked (empty for roles that see no people)")
    mine: bool
    assignee: str
    assignee_name: str = Field("", description="a staff assignee's name (account, else registry person)")
    alarm_ids: list[str]
    created_ts: float
    updated_ts: float
    claim_due_ts: float
    resolve_due_ts: float
    claimed_ts: float | None
    resolved_ts: float | None
    on_hold_since: float | None
    held_s: float
    resolution: str
    rating: int | None
    overdue: list[str] = Field(description='clocks run out: "claim", "resolve"')
    photos: int = Field(0, description="how many photos it has (GET …/photos lists them)")
    advice: AdviceOut | None = None


class EventOut(Out):
    ts: float
    actor: str
    actor_name: str = Field(description="the account's name, or its person's in the registry; may be empty")
    action: str
    from_state: str
    to_state: str
    note: str
    data: dict[str, Any]


class OrderWithEventsOut(OrderOut):
    events: list[EventOut]


class TeamOut(Out):
    id: str
    name: str
    members: list[str] = Field(description="staff person ids; empty for a role team (its role's staff)")
    roles: list[str] = Field(description="a role team's roles; empty for a site team")


class RuleOut(Out):
    position: int
    category: str = Field(description='"" any category (the default rule)')
    building: str
    grid: str
    team: str
    kind: str = Field(description="category+building, category+grid, category or default")


class DispatchOut(Out):
    site: str
    teams: list[TeamOut]
    rules: list[RuleOut] = Field(description="as in the registry file; the most specific match wins")


class OrderPage(Out):
    items: list[OrderOut]
    total: int
    limit: int
    offset: int
    next: int | None


def record_change(api: ApiContext, order: WorkOrder, action: str) -> None:
    """The change as a point for the board and the daily report (`gateway.store.order_points`)."""
    order_points.record(api.lines, order, action)


def _refused(exc: OrderRefused) -> HTTPException:
    return HTTPException(status_code=exc.status, detail=exc.detail)


async def photo_counts(api: ApiContext, orders: list[WorkOrder]) -> dict[str, int]:
    if not orders:
        return {}
    async with api.store.session() as s:
        q = (
            select(WorkOrderPhoto.order_id, func.count())
            .where(WorkOrderPhoto.order_id.in_([o.id for o in orders]))
            .group_by(WorkOrderPhoto.order_id)
        )
        return {o: int(n) for o, n in (await s.execute(q)).tuples().all()}


async def names_of(api: ApiContext, orders: list[WorkOrder]) -> dict[tuple[str, str], str]:
    """The registry's names of the orders' buildings, for their places."""
    async with api.store.session() as s:
        return await building_names(s, ((o.site, o.building) for o in orders))


def public(
    order: WorkOrder,
    caller: Caller,
    now: float,
    names: dict[tuple[str, str], str] | None = None,
    staff: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An order as the caller may see it (maintenance sees no people: no requester)."""
    people = caller.role in SEES_PEOPLE
    zh, en = place(
        (names or {}).get((order.site, order.building), ""), order.building, order.unit, order.household
    )
    return {
        "id": order.id,
        "site": order.site,
        "building": order.building,
        "unit": order.unit,
        "household": order.household,
        "device": order.device,
        "place": en,
        "place_zh": zh,
        "category": order.category,
        "priority": order.priority,
        "description": order.description,
        "state": order.state,
        "requester": order.requester if people else "",
        "mine": order.requester_account == caller.username,
        "assignee": order.assignee,
        "assignee_name": (staff or {}).get(order.assignee, ""),
        "alarm_ids": list(order.alarm_ids or []),
        "created_ts": order.created_ts,
        "updated_ts": order.updated_ts,
        "claim_due_ts": order.claim_due_ts,
        "resolve_due_ts": order.resolve_due_ts,
        "claimed_ts": order.claimed_ts,
        "resolved_ts": order.resolved_ts,
        "on_hold_since": order.held_since,
        "held_s": order.held_s,
        "resolution": order.resolution,
        "rating": order.rating,
        "overdue": wo.overdue(order, now),
    }


async def actor_names(api: ApiContext, site: str, actors: set[str]) -> dict[str, str]:
    """Who did what, by name: the account's own, else its person's in the registry."""
    async with api.store.session() as s:
        rows = (
            (
                await s.execute(
                    select(Account.username, Account.name, Account.person).where(
                        Account.username.in_(sorted(actors))
                    )
                )
            )
            .tuples()
            .all()
        )
        people = await person_names(s, ((site, p) for _, _, p in rows if p))
    return {u: n or people.get((site, p or ""), "") for u, n, p in rows}


def _event(e: WorkOrderEvent, caller: Caller, names: dict[str, str]) -> dict[str, Any]:
    people = caller.role in SEES_PEOPLE
    return {
        "ts": e.ts,
        "actor": e.actor if people else "",
        "actor_name": names.get(e.actor, "") if people else "",
        "action": e.action,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "note": e.note,
        "data": dict(e.data or {}),
    }


@router.post("/work-orders", response_model=OrderOut, status_code=201)
async def file_order(api: Ctx, me: Me, body: OrderIn) -> dict[str, Any]:
    """File a work order for a household, device or building in my scope. A gas smell is a P1 and comes
    back with what to do now."""
    new = wo.NewOrder(
        category=body.category,
        description=body.description,
        priority=body.priority,
        site=body.site,
        household=body.household,
        building=body.building,
        unit=body.unit,
        device=body.device,
        alarm_ids=tuple(body.alarm_ids),
    )
    try:
        order = await wo.create(api.store, me, new, now=api.clock(), listeners=api.order_listeners)
    except OrderRefused as exc:
        raise _refused(exc) from exc
    record_change(api, order, "submit")
    out = public(order, me, api.clock(), await names_of(api, [order]))
    if order.category == "gas_smell":  # a P1 for the property's duty team, but the first minutes are hers
        a = ADVICE[Hazard.GAS]
        out["advice"] = {
            "title": a.title, "title_zh": a.title_zh, "steps": list(a.steps), "steps_zh": list(a.steps_zh),
            "call": a.call,
        }  # fmt: skip
    return out


@router.get("/work-orders", response_model=OrderPage)
async def list_orders(
    api: Ctx,
    me: Me,
    p: Page,
    state: Annotated[list[State] | None, Query()] = None,
    category: Annotated[Category | None, Query()] = None,
    open_only: Annotated[bool, Query(alias="open")] = False,
    overdue: Annotated[bool, Query(description="only orders with a clock run out")] = False,
    pool: Annotated[bool, Query(description="only those waiting in my teams' pools to be claimed")] = False,
) -> dict[str, Any]:
    """Orders in my scope: open ones first, the earliest due first; finished ones after, newest first."""
    q = select(WorkOrder).where(me.where(WorkOrder))
    if pool:
        mine = await dispatch.teams_of(api.store, me.site or "", me.role, me.username, me.person)
        q = q.where(WorkOrder.state == "dispatched", WorkOrder.assignee.in_(mine))
    if state:
        q = q.where(WorkOrder.state.in_(state))
    if category:
        q = q.where(WorkOrder.category == category)
    if open_only:
        q = q.where(WorkOrder.state.not_in(sorted(FINISHED)))
    now = api.clock()
    if overdue:
        q = q.where(wo.overdue_at(now))
    async with api.store.session() as s:
        rows, total = await paged(s, q, p, *wo.board_order())
    names = await names_of(api, rows)
    staff: dict[str, str] = {}
    for site in {o.site for o in rows}:
        staff |= await actor_names(api, site, {o.assignee for o in rows if o.site == site and o.assignee})
    photos = await photo_counts(api, rows)
    return page([public(o, me, now, names, staff) | {"photos": photos.get(o.id, 0)} for o in rows], total, p)


@router.get("/work-orders/{order_id}", response_model=OrderWithEventsOut)
async def get_order(api: Ctx, me: Me, order_id: OrderId) -> dict[str, Any]:
    """One order with its whole timeline."""
    try:
        order = await wo.visible(api.store, me, order_id)
    except OrderRefused as exc:
        raise _refused(exc) from exc
    events = await wo.events(api.store, order.id)
    who = await actor_names(api, order.site, {e.actor for e in events} | {order.assignee})
    out = public(order, me, api.clock(), await names_of(api, [order]), who)
    out["photos"] = (await photo_counts(api, [order])).get(order.id, 0)
    out["events"] = [_event(e, me, who) for e in events]
    return out


@router.post("/work-orders/{order_id}/{action}", response_model=OrderOut)
async def act_on_order(
    api: Ctx, me: Me, order_id: OrderId, action: ActionName, body: StepIn | None = None
) -> dict[str, Any]:
    """Move an order on: what each action needs and who may is in the module's description."""
    step = body or StepIn(reason="", note="", assignee="", rating=None)
    try:
        order = await wo.act(
            api.store,
            me,
            order_id,
            action,
            wo.Step(reason=step.reason, note=step.note, assignee=step.assignee, rating=step.rating),
            now=api.clock(),
            listeners=api.order_listeners,
        )
    except OrderRefused as exc:
        raise _refused(exc) from exc
    record_change(api, order, action)
    return public(order, me, api.clock(), await names_of(api, [order]))


@router.get("/sites/{site}/dispatch", response_model=DispatchOut, dependencies=[Depends(role(*STAFF))])
async def dispatch_rules(api: Ctx, me: Me, site: Annotated[str, Path(pattern=ID_PATTERN)]) -> dict[str, Any]:
    """The site's teams and dispatch rules (from its registry file): where a new order goes."""
    if not me.sees_site(site):
        raise not_found("no such site")
    async with api.store.session() as s:
        rules = await dispatch.rules_of(s, site)
    named = await dispatch.teams(api.store, site)
    return {
        "site": site,
        "teams": [{"id": t, "name": "", "members": [], "roles": sorted(r)} for t, r in TEAMS.items()]
        + [{"id": t.id, "name": t.name, "members": list(t.members or []), "roles": []} for t in named],
        "rules": [
            {"position": r.position, "category": r.category, "building": r.building, "grid": r.grid,
             "team": r.team, "kind": r.kind}
            for r in rules
        ],
    }  # fmt: skip
