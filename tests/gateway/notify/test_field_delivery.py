"""How the notifier behaves against receivers that behave as real ones do: one broken address among many on
a host, a bot that refuses for good, a receiver slower than our timeout, a 429 with Retry-After, a WeCom bot
that refuses text over 2,048 bytes in a storm, and the night between a held alarm and its clearing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
import zoneinfo
from pathlib import Path
from typing import Any

from alerts.evidence import as_dict
from alerts.rule import Audience, Severity
from tests.gateway.notify.receivers import Fault, Receiver, Request
from tests.gateway.notify.rig import registry, rig, transition


def _two_residents(rx: Receiver) -> dict[str, Any]:
    reg = registry(rx)
    household = reg["buildings"][0]["units"][0]["households"][0]
    household["residents"] = [
        {"id": "p-1", "notify": [f"json://127.0.0.1:{rx.port}/apprise/p-1"]},
        {"id": "p-2", "notify": [f"json://127.0.0.1:{rx.port}/apprise/p-2"]},
    ]
    return reg


async def test_one_broken_address_never_holds_another_persons_alarm_on_the_same_host(tmp_path: Path) -> None:
    with Receiver() as rx:
        rx.script["/apprise/p-1"] = [Fault(500) for _ in range(100)]
        async with rig(tmp_path, rx, _two_residents(rx), circuit_seconds=60.0) as r:
            for n in range(6):  # p-1's address fails 6+ times: its circuit opens
                r.notifier.offer(transition("GAS-1", n=n, ts=time.time(), severity=Severity.P2))
            circuits = r.notifier.circuits
            await r.settle(lambda: any(c.is_open(time.time()) for c in circuits.values()))
            started = time.time()
            r.notifier.offer(transition("CO-1", n=99, ts=time.time()))
            await r.settle(
                lambda: any("一氧化碳" in json.loads(q.body)["title"] for q in rx.at("/apprise/p-2")),
                within=10,
            )
            assert time.time() - started < 5.0


async def test_a_bot_that_refuses_for_good_wakes_the_next_channel_and_raises_sys_channel(
    tmp_path: Path,
) -> None:
    with Receiver() as rx:
        reg = registry(rx)
        contact = reg["buildings"][0]["units"][0]["households"][0]["contacts"][0]
        contact["notify"].append(f"json://127.0.0.1:{rx.port}/apprise/c-1")
        refusal = b'{"errcode":310000,"errmsg":"keywords not in content"}'
        rx.script["/bot/c-1?access_token=t"] = [Fault(200, refusal, {"content-type": "application/json"})]
        async with rig(tmp_path, rx, reg) as r:
            t = transition("HLT-2", ts=time.time(), severity=Severity.P3, notify=(Audience.CONTACTS,))
            r.notifier.offer(t)
            await r.settle(lambda: bool(rx.at("/apprise/c-1")))
            assert len(rx.at("/bot/c-1")) == 1, "a permanent refusal is not retried"
            health = [x for x in r.transitions if x.rule == "SYS-CHANNEL" and x.transition == "raised"]
            assert len(health) == 1
            evidence = as_dict(health[0].evidence[0])
            assert "310000" in evidence["error"] and "access_token=t" not in json.dumps(evidence)


async def test_a_receiver_slower_than_the_timeout_gets_at_most_one_copy_more(tmp_path: Path) -> None:
    """The receiver takes 3 s to answer, our timeout is 2 s: each attempt may have arrived."""
    with Receiver() as rx:
        rx.script["/apprise/p-1"] = [Fault(200, b"{}", delay=3.0) for _ in range(10)]
        async with rig(tmp_path, rx, send_timeout=2.0, backoff_base=0.1) as r:
            t = transition("CO-1", ts=time.time())
            r.notifier.offer(t)
            await r.settle(lambda: len(rx.at("/apprise/p-1")) >= 2, within=15)
            await r.settle(
                lambda: (
                    not any(
                        d.alarm_id == t.alarm_id and d.channel == "apprise" for d in r.notifier.live.values()
                    )
                ),
                within=15,
            )
            copies = rx.at("/apprise/p-1")
            assert len(copies) == 2, [c.at for c in copies]
            # the first attempt timed out after 2 s, then the notifier waited at least the timeout again
            assert copies[1].at - copies[0].at >= 2.0 + 2.0 - 0.05
            keys = {c.headers.get("idempotency-key") for c in copies}
            assert len(keys) == 1 and None not in keys


async def test_retry_after_is_honoured_for_an_apprise_json_address(tmp_path: Path) -> None:
    with Receiver() as rx:
        rx.script["/apprise/p-1"] = [Fault(429, b"slow down", {"Retry-After": "3"})]
        async with rig(tmp_path, rx, backoff_max=30.0) as r:
            r.notifier.offer(transition("CO-1", ts=time.time()))
            await r.settle(lambda: len(rx.at("/apprise/p-1")) >= 2, within=15)
            first, second = rx.at("/apprise/p-1")[:2]
            assert second.at - first.at >= 3.0


class WeComBot(Receiver):
    """WeCom's group bot: text over 2,048 UTF-8 bytes is refused with errcode 40058."""

    def default(self, path: str, req: Request) -> Fault:
        if path.startswith("/bot/pm"):
            content = json.loads(req.body)["text"]["content"]
            if len(content.encode()) > 2048:
                return Fault(200, b'{"errcode":40058,"errmsg":"content exceed max length"}')
        return super().default(path, req)


async def test_a_storm_reaches_a_wecom_bot_in_digests_it_accepts_p1s_first(tmp_path: Path) -> None:
    with WeComBot() as rx:
        async with rig(tmp_path, rx, bot_per_minute=60) as r:
            now = time.time()
            storm = [
                transition(
                    "GAS-2" if i % 4 == 0 else "GAS-1",
                    n=i,
                    ts=now + i * 0.001,
                    severity=Severity.P1 if i % 4 == 0 else Severity.P2,
                    notify=(Audience.PROPERTY,),
                )
                for i in range(200)
            ]
            for t in reversed(storm):  # P2s first in arrival order: they must not take the P1s' slots
                r.notifier.offer(t)
            await r.settle(lambda: len(rx.at("/bot/pm")) >= 1)
            await r.settle(lambda: not any(d.channel == "bot" for d in r.notifier.live.values()), within=60)
            refused = [q for q in rx.at("/bot/pm") if b"40058" in q.answer]
            assert refused == []
            for t in storm:
                states = [
                    d["state"] for d in await r.notifier.deliveries(t.alarm_id) if d["channel"] == "bot"
                ]
                assert states and set(states) <= {"delivered", "merged"}, (t.alarm_id, states)
            single = [
                json.loads(q.body)["text"]["content"]
                for q in rx.at("/bot/pm")
                if "条报警" not in json.loads(q.body)["text"]["content"]
            ]
            assert single and all(s.startswith("P1") for s in single), single


async def test_a_held_night_alarm_cleared_before_morning_is_never_sent(tmp_path: Path) -> None:
    """A P3 held by quiet hours until 07:00 and cleared at 01:53: neither wakes the resident."""
    zone = zoneinfo.ZoneInfo("Asia/Shanghai")
    night = dt.datetime(2027, 1, 15, 23, 30, tzinfo=zone).timestamp()
    with Receiver() as rx:
        async with rig(tmp_path, rx, quiet_hours="22:00-07:00", webhooks=[]) as r:
            clock = [night]
            r.notifier.clock = lambda: clock[0]
            raised = transition("HLT-2", ts=night, severity=Severity.P3)
            r.notifier.offer(raised)
            await r.settle(lambda: any(d.alarm_id == raised.alarm_id for d in r.notifier.live.values()))
            clock[0] = dt.datetime(2027, 1, 16, 1, 53, tzinfo=zone).timestamp()
            cleared = transition("HLT-2", "cleared", ts=night, severity=Severity.P3)
            r.notifier.offer(cleared)
            await r.settle(lambda: not any(d.alarm_id == raised.alarm_id for d in r.notifier.live.values()))
            states = {(d["transition"], d["state"]) for d in await r.notifier.deliveries(raised.alarm_id)}
            assert ("raised", "cancelled") in states
            assert not any(t == "cleared" for t, _ in states), states
            assert rx.at("/apprise/p-1") == []


def _no_addresses(rx: Receiver) -> dict[str, Any]:
    """The pilot's usual first week: residents and family enrolled nobody's phone, nor has the officer."""
    reg = registry(rx)
    household = reg["buildings"][0]["units"][0]["households"][0]
    household["residents"] = [{"id": "p-1", "notify": []}]
    household["contacts"] = [{"id": "c-1", "notify": []}]
    reg["grids"][0]["officers"] = [{"id": "o-1", "notify": []}]
    return reg


async def test_a_p1_nobody_can_be_told_of_raises_a_standing_sys_unreached(tmp_path: Path) -> None:
    with Receiver() as rx:
        async with rig(tmp_path, rx, _no_addresses(rx)) as r:
            t = transition("CO-1", ts=time.time(), notify=(Audience.RESIDENTS, Audience.CONTACTS))
            r.notifier.offer(t)
            await r.settle(lambda: any(x.rule == "SYS-UNREACHED" for x in r.transitions))
            raised = [x for x in r.transitions if x.rule == "SYS-UNREACHED" and x.transition == "raised"]
            assert len(raised) == 1 and raised[0].subject == t.alarm_id, raised
            assert raised[0].severity == Severity.P2
            assert await r.notifier.reached([t.alarm_id]) == {}, "nothing may say notified"
            # a reminder to the same nobody does not raise it twice
            r.notifier.offer(dataclasses.replace(t, transition="reminded", ts=time.time()))
            await r.settle(lambda: not r.notifier.pending)
            assert sum(x.rule == "SYS-UNREACHED" and x.transition == "raised" for x in r.transitions) == 1
            # someone answered: it returns to normal and stays until acknowledged
            r.notifier.offer(dataclasses.replace(t, transition="acknowledged", ts=time.time(), by="t1/pm-1"))
            await r.settle(
                lambda: any(x.rule == "SYS-UNREACHED" and x.transition == "cleared" for x in r.transitions)
            )


async def test_a_p1_whose_only_address_fails_for_good_raises_sys_unreached(tmp_path: Path) -> None:
    with Receiver() as rx:
        reg = _no_addresses(rx)
        reg["buildings"][0]["units"][0]["households"][0]["residents"] = [
            {"id": "p-1", "notify": [f"json://127.0.0.1:{rx.port}/apprise/p-1"]}
        ]
        rx.script["/apprise/p-1"] = [Fault(500) for _ in range(100)]
        async with rig(tmp_path, rx, reg, max_attempts=2, backoff_base=0.1) as r:
            t = transition("CO-1", ts=time.time())
            r.notifier.offer(t)
            await r.settle(lambda: any(x.rule == "SYS-UNREACHED" for x in r.transitions), within=20)
            assert len(rx.at("/apprise/p-1")) == 2
            assert "failed" in json.dumps([as_dict(e) for e in r.transitions[-1].evidence])
            assert await r.notifier.reached([t.alarm_id]) == {}


async def test_notified_lists_only_audiences_an_address_accepted(tmp_path: Path) -> None:
    """Residents reached, the officer's address down for good: notified says R, never GO."""
    with Receiver() as rx:
        rx.script["/apprise/o-1"] = [Fault(500) for _ in range(100)]
        async with rig(tmp_path, rx, max_attempts=2, backoff_base=0.1) as r:
            t = transition("CO-1", ts=time.time(), notify=(Audience.RESIDENTS, Audience.GRID))
            r.notifier.offer(t)
            await r.settle(lambda: len(rx.at("/apprise/o-1")) >= 2 and bool(rx.at("/apprise/p-1")))
            await r.settle(lambda: not any(d.alarm_id == t.alarm_id for d in r.notifier.live.values()))
            assert await r.notifier.reached([t.alarm_id]) == {t.alarm_id: ["R"]}
            assert not any(x.rule == "SYS-UNREACHED" for x in r.transitions), "a person was reached"
