"""People's own preferences through the real notifier: channel order and the ladder, their quiet hours,
P3/P4 opt-outs (recorded, counted, never touching P1/P2), their language first, and edits in the store
reaching the planner without a restart."""

from __future__ import annotations

import datetime as dt
import json
import time
import zoneinfo
from pathlib import Path

from alerts.rule import Audience, Severity
from alerts.signals import Transition
from gateway.preference import Preference
from gateway.store.db import open_store, sqlite_url
from gateway.store.preferences import PreferenceTable
from tests.gateway.notify.receivers import Fault, Receiver
from tests.gateway.notify.rig import Rig, rig, transition
from tests.gateway.notify.test_delivery import enrol

R, EC, PM = Audience.RESIDENTS, Audience.CONTACTS, Audience.PROPERTY
ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")  # scenarios.registry()'s site t1


def local(day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(2027, 1, day, hour, minute, tzinfo=ZONE).timestamp()


def mine(r: Rig, person: str = "p-1", **fields: object) -> None:
    r.notifier.preferences.put(Preference(site="t1", person=person, **fields))  # type: ignore[arg-type]


def opted_out_count(r: Rig, rule: str) -> float:
    value = r.notifier.metrics.notify_opted_out.labels(rule=rule)._value.get()
    return float(value)


async def test_their_channel_order_goes_first_and_the_next_wakes_when_it_fails(tmp_path: Path) -> None:
    with Receiver() as rx:
        async with rig(tmp_path, rx, webhooks=[]) as r:
            await enrol(r, rx, "order-phone")
            p3 = transition("HLT-1", severity=Severity.P3, ts=time.time())
            default = [(d.channel, d.state) for d in r.notifier.plan(p3, time.time()) if d.recipient == "p-1"]
            assert default == [("webpush", "queued"), ("apprise", "standby")]  # the registry's order

            mine(r, channels=("apprise", "webpush"))
            rx.script = {"/apprise/p-1": [Fault(500)] * 20}  # their first choice is down
            t = transition("HLT-1", severity=Severity.P3, ts=time.time(), n=1)
            r.emit([t])
            await r.settle(lambda: bool(rx.at("/apprise/p-1")) and bool(rx.at("/push/order-phone", 201)))
            first_apprise = min(q.at for q in rx.at("/apprise/p-1"))
            assert first_apprise < min(q.at for q in rx.at("/push/order-phone"))
            states = {
                d["channel"]: d for d in await r.notifier.deliveries(t.alarm_id) if d["recipient"] == "p-1"
            }
            assert states["apprise"]["rank"] == 0 and states["webpush"]["rank"] == 1


async def test_their_order_picks_a_p4s_channel_but_never_delays_a_p1(tmp_path: Path) -> None:
    """The apprise address is the ladder's later step for P1 (60 s, unless acknowledged). Someone who puts
    apprise first gets a P4 there first (the push on standby behind it); a P1 keeps every channel's own step:
    the push at once and apprise at 60 s, whatever their order, so a preference never makes a P1 wait."""
    with Receiver() as rx:
        async with rig(tmp_path, rx, webhooks=[], ladder={"apprise": {"P1": 60.0}}) as r:
            await enrol(r, rx, "ladder-phone")
            now = time.time()
            p1 = transition("CO-1", ts=now)
            p4 = transition("HLT-3", severity=Severity.P4, ts=now)

            def steps(t: Transition) -> dict[str, tuple[str, float | None]]:
                return {
                    d.channel: (d.state, d.message.ladder_at)
                    for d in r.notifier.plan(t, now)
                    if d.recipient == "p-1"
                }

            assert steps(p1) == {"webpush": ("queued", None), "apprise": ("standby", now + 60)}
            assert steps(p4) == {"webpush": ("queued", None), "apprise": ("standby", None)}
            mine(r, channels=("apprise",))  # only apprise named: the push keeps its place behind it
            assert steps(p4) == {"apprise": ("queued", None), "webpush": ("standby", None)}
            assert steps(p1) == {"webpush": ("queued", None), "apprise": ("standby", now + 60)}


async def test_their_quiet_hours_replace_the_sites_for_p3_p4_only(tmp_path: Path) -> None:
    with Receiver() as rx:
        async with rig(tmp_path, rx, webhooks=[], quiet_hours="22:00-07:00") as r:
            evening, night = local(15, 20, 30), local(15, 23)
            p4 = transition("HLT-3", severity=Severity.P4, ts=evening, notify=(R, PM))
            p1 = transition("CO-1", ts=evening, notify=(R, PM))

            def when(t: object, at: float) -> dict[str, set[float]]:
                out: dict[str, set[float]] = {}
                for d in r.notifier.plan(t, at):  # type: ignore[arg-type]
                    out.setdefault(d.recipient, set()).add(d.next_at)
                return out

            assert when(p4, evening) == {"p-1": {evening}, "pm-1": {evening}}  # before the site's 22:00
            mine(r, quiet_hours="20:00-06:30")
            mine(r, "pm-1", quiet_hours="19:00-06:00")  # staff who set hours of their own get them too
            assert when(p4, evening) == {"p-1": {local(16, 6, 30)}, "pm-1": {local(16, 6)}}
            assert when(p1, evening) == {"p-1": {evening}, "pm-1": {evening}}  # P1/P2 never wait
            # hours that end before the site's: her P4 at 06:45 goes, the site would have held it to 07:00
            dawn = local(16, 6, 45)
            assert when(transition("HLT-3", severity=Severity.P4, ts=dawn, notify=(R,)), dawn) == {
                "p-1": {dawn}
            }
            # someone with no hours of their own keeps the site's; staff without any are never held
            mine(r, language="en")
            mine(r, "pm-1", language="en")
            assert when(p4, night) == {"p-1": {local(16, 7)}, "pm-1": {night}}


async def test_an_opt_out_skips_p4_is_recorded_and_counted_and_never_touches_p1(tmp_path: Path) -> None:
    with Receiver() as rx:
        async with rig(tmp_path, rx, webhooks=[]) as r:
            mine(r, opt_out=("HLT-3", "doors"))
            now = time.time()
            battery = transition("HLT-3", severity=Severity.P4, ts=now, notify=(R, EC))
            co = transition("CO-1", ts=now, notify=(R, EC), n=1)
            r.emit([battery, co])
            await r.settle(lambda: len(rx.at("/bot/c-1")) >= 2 and bool(rx.at("/apprise/p-1")))
            await r.notifier.flush()
            told = [json.loads(q.body) for q in rx.at("/apprise/p-1")]
            assert len(told) == 1 and told[0]["title"].startswith("P1 一氧化碳报警")
            skipped = [d for d in await r.notifier.deliveries(battery.alarm_id) if d["recipient"] == "p-1"]
            assert [(d["state"], d["error"], d["sent_at"]) for d in skipped] == [
                ("cancelled", "opted out of HLT-3", None)
            ]
            assert opted_out_count(r, "HLT-3") == 1
            await r.settle(
                lambda: any(b"state=cancelled" in x and b'recipient="p-1"' in x for x in r.lines.lines)
            )
            # her family contact did not opt out and heard of the battery; the clearing follows only them
            r.emit([transition("HLT-3", "cleared", severity=Severity.P4, ts=now, notify=(R, EC))])
            await r.settle(lambda: len(rx.at("/bot/c-1")) >= 3)
            await r.notifier.flush()
            cleared = [
                d for d in await r.notifier.deliveries(battery.alarm_id) if d["transition"] == "cleared"
            ]
            assert {d["recipient"] for d in cleared} == {"c-1"}
            assert opted_out_count(r, "HLT-3") == 1
            # the same rule escalated to P2 reaches her: opt-outs are for P3/P4 only
            p2 = transition("HLT-3", severity=Severity.P2, ts=now + 1, notify=(R,), n=2)
            assert any(d.recipient == "p-1" and d.state == "queued" for d in r.notifier.plan(p2, now))


async def test_their_language_comes_first_in_the_text(tmp_path: Path) -> None:
    with Receiver() as rx:
        async with rig(tmp_path, rx, webhooks=[]) as r:
            mine(r, "c-1", language="en")
            t = transition("CO-1", ts=time.time(), notify=(R, EC))
            r.emit([t])
            await r.settle(lambda: bool(rx.at("/bot/c-1")) and bool(rx.at("/apprise/p-1")))
            english = json.loads(rx.at("/bot/c-1")[0].body)["text"]["content"]
            chinese = json.loads(rx.at("/apprise/p-1")[0].body)["message"]
            assert english.startswith("P1 Carbon monoxide") and "一氧化碳" in english
            assert english.index("Acknowledge") < english.index("确认")
            assert chinese.startswith("P1 一氧化碳报警")
            assert english.index("一氧化碳") > english.index("Carbon monoxide")


async def test_preferences_come_from_the_store_at_start_and_on_each_refresh(tmp_path: Path) -> None:
    async with open_store(sqlite_url(tmp_path / "guardian.sqlite3")) as store:
        table = PreferenceTable(store)
        await table.put(Preference(site="t1", person="p-1", opt_out=("HLT-3",), updated=1.0))
        with Receiver() as rx:
            async with rig(tmp_path, rx, webhooks=[], preferences=table.all, preferences_seconds=0.2) as r:
                now = time.time()
                battery = transition("HLT-3", severity=Severity.P4, ts=now, notify=(R,))
                assert [d.state for d in r.notifier.plan(battery, now)] == ["cancelled"]
                await table.put(Preference(site="t1", person="p-1", updated=2.0))  # she changed her mind
                await r.settle(lambda: r.notifier.preferences.of("t1", "p-1").opt_out == ())  # type: ignore[union-attr]
                assert [d.state for d in r.notifier.plan(battery, now)] == ["queued"]
