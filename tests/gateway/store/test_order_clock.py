"""Work-order clocks escalate in event time (days in seconds) over a SQLite store, through the real notifier
and its channels to real receivers: 50 % to the dispatcher on duty, 80 % to the property team, 100 % to the
grid officer on duty; each level once, across a restart; a hold pauses the clock; a claim stops the claim
clock, a resolve both; the resident hears of her order's claim and resolution, Chinese first.

The site: resident p-1 in b1-u1-101 (grid g1: officers o-1, o-2), property staff pm-1 (a WeCom bot) and
pm-2; the roster has pm-2 on the property desk and o-2 on g1 around the claim clock's end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import zoneinfo
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import yaml

from alerts.rule import Audience, Severity
from alerts.signals import Transition, Where
from gateway.http.api.scope import Caller
from gateway.notify import order_notices
from gateway.notify.oncall import OnCall, Shift
from gateway.notify.order_notices import Notice
from gateway.store import work_orders as wo
from gateway.store.db import Store, open_store, sqlite_url
from gateway.store.order_clock import OrderClock, notice
from gateway.store.order_desk import OrderDesk
from gateway.store.order_flow import CLOCKS, DAY, HOUR, P1_CLOCK
from gateway.store.registry_import import import_registry
from gateway.store.schema import WorkOrderEvent
from sensors.registry import parse_registry
from tests.gateway.notify.receivers import Receiver
from tests.gateway.notify.rig import Rig, registry, rig

T0 = 1_780_000_000.0  # a Friday in May 2026, 04:26 in Shanghai (quiet hours)
RESIDENT = Caller("res1", "resident", "t1", "p-1", frozenset({"b1"}), frozenset({"b1-u1-101"}))
OFFICER = Caller("off1", "officer", "t1", "o-1", None, None)
PROPERTY = Caller("pm1", "property", "t1", "pm-1", None, None)


def site(rx: Receiver) -> dict[str, Any]:
    reg = registry(rx)
    reg["grids"][0]["officers"].append({"id": "o-2", "notify": [f"json://127.0.0.1:{rx.port}/apprise/o-2"]})
    pm2 = [f"json://127.0.0.1:{rx.port}/apprise/pm-2", f"wecom+{rx.url}/bot/desk2?key=k"]
    reg["property"].append({"id": "pm-2", "notify": pm2})
    return reg


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def on_duty(r: Rig) -> None:
    """pm-2 on the property desk all month; o-2 on g1 from 20:00 on day 0 to 08:00 on day 1 (o-1 off)."""
    roster = OnCall(lambda now: _no_load(), clock=lambda: T0)
    roster.replace([
        Shift("t1", "property", "", "pm-2", T0 - DAY, T0 + 30 * DAY),
        Shift("t1", "officer", "g1", "o-2", T0 + 0.9 * DAY, T0 + 1.1 * DAY),
        Shift("t1", "officer", "g1", "o-1", T0 + 1.1 * DAY, T0 + 30 * DAY),
    ])  # fmt: skip
    r.notifier.planner.directory = r.notifier.planner.directory.with_on_call(roster)


async def _no_load() -> list[Shift]:
    return []


@contextlib.asynccontextmanager
async def estate(
    tmp_path: Path, rx: Receiver, store: Store | None = None, **settings: Any
) -> AsyncIterator[tuple[Store, Rig]]:
    """The site in a store (SQLite unless given one), and the real notifier over the same registry."""
    reg = site(rx)
    async with contextlib.AsyncExitStack() as stack:
        if store is None:
            store = await stack.enter_async_context(open_store(sqlite_url(tmp_path / "guardian.sqlite3")))
        await import_registry(store, parse_registry(yaml.safe_dump(reg), "t1.yaml"))
        r = await stack.enter_async_context(rig(tmp_path, rx, reg, **settings))
        yield store, r


def alarm(rule: str, subject: str, ts: float, severity: Severity) -> Transition:
    return Transition(
        ts=ts, alarm_id=f"t1:{rule}:{subject}:{int(ts)}", rule=rule, severity=severity, transition="raised",
        where=Where("t1", "b1", "b1-u1", "b1-u1-101"), subject=subject, notify=(Audience.RESIDENTS,),
    )  # fmt: skip


def levels(events: list[WorkOrderEvent]) -> list[tuple[str, int, float]]:
    return [(e.data["clock"], e.data["level"], e.ts - e.data["due"]) for e in events]


def texts(rx: Receiver, path: str) -> list[str]:
    return [json.loads(q.body)["message"] for q in rx.at(path, 200)]


async def test_the_claim_clock_escalates_at_50_80_100_to_the_right_people_once_across_a_restart(
    tmp_path: Path,
) -> None:
    with Receiver() as rx:
        async with estate(tmp_path, rx) as (store, r):
            on_duty(r)
            clock = Clock(T0)
            watch = OrderClock(store, r.notifier.tell, clock=clock)
            assert await watch.load() == 0
            new = wo.NewOrder("repair", "the kitchen tap leaks", household="b1-u1-101")
            order = await wo.create(store, RESIDENT, new, now=T0, listeners=(watch.offer,))
            await wo.act(store, OFFICER, order.id, "accept", wo.Step(), now=T0 + 60, listeners=(watch.offer,))
            claim_s, resolve_s = CLOCKS["repair"]

            clock.now = T0 + 0.5 * claim_s - 0.001
            assert await watch.advance() == []
            clock.now = T0 + 0.5 * claim_s
            assert levels(await watch.advance()) == [("claim", 50, 0.0)]
            clock.now = T0 + 0.8 * claim_s + 0.5  # half a second late: the figure the event says
            assert levels(await watch.advance()) == [("claim", 80, 0.5)]
            assert await watch.drain() == 5  # pm-2 (on duty) at 50 %, pm-1 and pm-2 at 80 %: their channels

            # a restart: a new watcher over the same store fires neither level again, and the last
            # hour's notices handed over again plan nothing new (the outbox's keys)
            again = OrderClock(store, r.notifier.tell, clock=clock)
            assert await again.load() == 1
            assert await again.advance() == []
            assert await again.drain() == 0
            clock.now = T0 + claim_s
            assert levels(await again.advance()) == [("claim", 100, 0.0)]
            assert await again.drain() == 1  # o-2, on duty at the claim clock's end; o-1 is not

            # dispatched and claimed: the claim clock stops, the resolve clock goes on
            for action, step, who in (
                ("dispatch", wo.Step(assignee="property"), OFFICER),
                ("claim", wo.Step(), PROPERTY),
            ):
                await wo.act(store, who, order.id, action, step, now=clock.now + 10, listeners=(again.offer,))
            clock.now = T0 + 0.5 * resolve_s
            assert levels(await again.advance()) == [("resolve", 50, 0.0)]
            await again.drain()
            clock.now = T0 + 30 * DAY  # resolved before 80 %: nothing more
            await wo.act(
                store,
                PROPERTY,
                order.id,
                "resolve",
                wo.Step(note="换了水龙头阀芯"),
                now=T0 + 4 * DAY,
                listeners=(again.offer,),
            )
            assert await again.advance() == [] and again.next_due() is None
            assert await again.drain() == 1  # her "resolved"

            await r.settle(
                lambda: len(rx.at("/apprise/p-1", 200)) == 2 and len(rx.at("/apprise/o-2", 200)) == 1
            )
            await r.settle(lambda: len(rx.at("/apprise/pm-2", 200)) == 3 and len(rx.at("/bot/pm", 200)) == 1)
            pm2, pm1 = (
                texts(rx, "/apprise/pm-2"),
                [json.loads(q.body)["text"]["content"] for q in rx.at("/bot/pm", 200)],
            )
            # escalations due together are sent together: found by what they say, not by arrival order
            claim50 = [m for m in pm2 if "督办50%" in m and "签收" in m]
            claim80 = [m for m in pm2 if "督办80%" in m]
            resolve50 = [m for m in pm2 if "督办50%" in m and "办结" in m]
            assert len(claim50) == len(claim80) == len(resolve50) == 1, pm2
            assert "值班调度" in claim50[0]
            assert len(pm1) == 1 and "督办80%" in pm1[0] and "物业负责人" in pm1[0]
            overdue = texts(rx, "/apprise/o-2")[0]
            assert overdue.startswith("督办：维修工单签收已超时") and "Overdue: repair order" in overdue
            assert not rx.at("/apprise/o-1")  # off duty at the claim clock's end
            claimed, resolved = texts(rx, "/apprise/p-1")
            assert (
                claimed.startswith("您的维修报修已被接单") and "Your repair request has been taken" in claimed
            )
            assert claimed.index("您的") < claimed.index("Your")
            assert resolved.startswith("您的维修报修已处理完毕") and "换了水龙头阀芯" in resolved
            assert "评价" in resolved and "http://gateway/app/" in resolved
            for text in (claimed, resolved):  # a resident reads words, not codes
                assert "repair" not in text.split("Your")[0] and "wo-" not in text and "P3" not in text

            events = await wo.events(store, order.id)
            escalated = [(e.data["clock"], e.data["level"]) for e in events if e.action == "escalated"]
            notes = [e.note for e in events if e.action == "escalated"]
            assert (
                notes[0] == "督办：签收时限已用 50% / escalated: 50% of the time to claim"
            )  # the timeline's
            assert escalated == [("claim", 50), ("claim", 80), ("claim", 100), ("resolve", 50)]


async def test_a_hold_pauses_the_resolve_clock_and_a_p1_escalation_goes_at_once(
    tmp_path: Path, store: Store
) -> None:
    """On both store back ends (the conftest's `store`): PostgreSQL is a district's."""
    with Receiver() as rx:
        async with estate(tmp_path, rx, store) as (_, r):
            clock = Clock(T0)
            watch = OrderClock(store, r.notifier.tell, clock=clock)
            await watch.load()
            listen = (watch.offer,)
            new = wo.NewOrder("detector_fault", "the detector shows E3", household="b1-u1-101")
            order = await wo.create(store, RESIDENT, new, now=T0, listeners=listen)
            for at, action, step, who in (
                (T0 + 60, "accept", wo.Step(), OFFICER),
                (T0 + 120, "dispatch", wo.Step(assignee="property"), OFFICER),
                (T0 + HOUR, "claim", wo.Step(), PROPERTY),
                (T0 + 2 * HOUR, "start", wo.Step(), PROPERTY),
                (T0 + DAY, "hold", wo.Step(reason="waiting for the spare part"), PROPERTY),
            ):
                await wo.act(store, who, order.id, action, step, now=at, listeners=listen)
            resolve_s = CLOCKS["detector_fault"][1]  # 3 days: 50 % at 1.5 days, were it not on hold
            clock.now = T0 + 2 * DAY
            assert await watch.advance() == [] and watch.next_due() is None  # on hold: no timers
            await wo.act(store, PROPERTY, order.id, "resume", wo.Step(), now=T0 + 2 * DAY, listeners=listen)
            clock.now = T0 + 0.5 * resolve_s + DAY - 0.001  # a day on hold: everything a day later
            assert await watch.advance() == []
            clock.now = T0 + 0.5 * resolve_s + DAY
            assert levels(await watch.advance()) == [("resolve", 50, 0.0)]

            # a gas smell is a P1: its 50 % (7.5 min) goes at once, on every channel
            gas = wo.NewOrder("gas_smell", "a smell of gas on the stairs", household="b1-u1-101")
            smell = await wo.create(store, RESIDENT, gas, now=clock.now, listeners=listen)
            clock.now += 0.5 * P1_CLOCK[0]
            fired = await watch.advance()
            assert [(e.order_id, *x) for e, x in zip(fired, levels(fired), strict=True)] == [
                (smell.id, "claim", 50, 0.0)
            ]
            await watch.drain()
            p1 = await r.notifier.deliveries(smell.id)
            assert {(d["recipient"], d["channel"]) for d in p1} == {
                ("pm-1", "bot"),
                ("pm-2", "apprise"),
                ("pm-2", "bot"),
            }
            assert {d["severity"] for d in p1} == {"P1"} and all(d["state"] != "standby" for d in p1)
            p3 = [d for d in await r.notifier.deliveries(order.id) if d["recipient"] == "pm-2"]
            assert {d["severity"] for d in p3} == {"P3"} and sorted(d["rank"] for d in p3) == [0, 1]
            assert [d["state"] for d in p3 if d["rank"] == 1] == ["standby"]  # its fallback
            await r.settle(lambda: len(rx.at("/bot/desk2", 200)) == 1)
            await r.settle(lambda: any("燃气异味" in t for t in texts(rx, "/apprise/pm-2")))

            # the detector job's resolve clock goes on to 80 % and 100 % (a day later for the hold);
            # resolved, it stops
            for level in (80, 100):
                clock.now = T0 + level / 100 * resolve_s + DAY
                fired = await watch.advance()
                mine = levels([e for e in fired if e.order_id == order.id])
                assert mine == [("resolve", level, 0.0)]
            await wo.act(
                store,
                PROPERTY,
                order.id,
                "resolve",
                wo.Step(note="replaced the sensor head"),
                now=clock.now,
                listeners=listen,
            )
            clock.now += 30 * DAY
            assert all(e.order_id != order.id for e in await watch.advance())
            events = [e for e in await wo.events(store, order.id) if e.action == "escalated"]
            # claimed within the hour: its claim clock never reached 50 %
            assert [(e.data["clock"], e.data["level"]) for e in events] == [
                ("resolve", 50), ("resolve", 80), ("resolve", 100)
            ]  # fmt: skip


async def test_quiet_hours_hold_her_news_not_a_p1_and_the_alarms_orders_are_watched(tmp_path: Path) -> None:
    with Receiver() as rx:
        async with estate(tmp_path, rx, quiet_hours="22:00-07:00") as (store, r):
            clock = Clock(T0)
            watch = OrderClock(store, r.notifier.tell, clock=clock)
            await watch.load()
            desk = OrderDesk(store, listeners=(watch.offer,))
            leak = await desk.take(alarm("GAS-2", "s-1", T0, Severity.P1))
            assert leak is not None and leak.id in watch.tracks and leak.requester == "account:guardian"
            clock.now = T0 + 0.5 * P1_CLOCK[0]
            [e] = await watch.advance()
            assert (e.order_id, e.data["clock"], e.data["level"]) == (leak.id, "claim", 50)
            escalation = notice(leak, e)
            assert escalation is not None and escalation.severity == "P1"
            assert {d.next_at for d in order_notices.plan(r.notifier.planner, escalation, T0)} == {
                T0
            }  # at 04:26

            # her news is a P3 at home: it waits for 07:00; a P3 escalation to staff does not
            morning = dt.datetime(2026, 5, 29, 7, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai")).timestamp()
            base = {"order_id": "wo-1", "event_id": 7, "ts": T0, "site": "t1", "building": "b1", "unit": "b1-u1",
                    "household": "b1-u1-101", "category": "battery", "priority": "P4"}  # fmt: skip
            hers = order_notices.plan(
                r.notifier.planner, Notice(kind="claimed", requester="t1/p-1", **base), T0
            )
            assert [(d.recipient, d.next_at, d.key) for d in hers] == [
                ("p-1", morning, f"wo-1|7|p-1|apprise|json://127.0.0.1:{rx.port}/apprise/p-1")
            ]
            staff = order_notices.plan(
                r.notifier.planner, Notice(kind="escalated", clock="claim", level=80, **base), T0
            )
            assert {d.recipient for d in staff} == {"pm-1", "pm-2"} and {d.next_at for d in staff} == {T0}
            # an account that filed (the order desk's) is not a person: nobody to tell
            assert (
                order_notices.plan(
                    r.notifier.planner, Notice(kind="claimed", requester="account:guardian", **base), T0
                )
                == []
            )


def test_an_order_changed_often_never_grows_the_heap_without_bound() -> None:
    watch = OrderClock(None, None, clock=lambda: T0)  # type: ignore[arg-type]  # offer never reads the store
    orders = [
        wo.fresh_order(
            site="t1",
            building="b1",
            unit="",
            household="",
            device="",
            category="repair",
            priority="P3",
            description="",
            state="submitted",
            requester="",
            requester_account="",
            assignee="",
            alarm_ids=[],
            cause="",
            now=T0,
        )
        for _ in range(10)
    ]
    for n in range(20_000):  # 2,000 changes to each of 10 orders: each change re-arms 6 timers
        watch.offer(orders[n % 10], WorkOrderEvent(id=n, action="accept"))
    assert len(watch.heap) <= 12 * 1000 + 6 and watch.next_due() == T0 + 0.5 * CLOCKS["repair"][0]
    assert len([e for e in watch.heap if watch._current(e)]) == 60
