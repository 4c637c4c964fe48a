"""Alarms reach people over real HTTP with real cryptography, through faults, with proof of delivery."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import re
import time
from pathlib import Path

from alerts.rule import Audience, Severity
from alerts.signals import Where
from gateway.pipeline.replay import replay
from simulators import scenarios
from tests.gateway.notify.receivers import Fault, Receiver
from tests.gateway.notify.rig import Rig, rig, transition

T0 = scenarios.T0
DOOR = Where("t1", "b1", "b1-u1", "")  # a door alarm: no household


def co_exposure(r: Rig, minutes: float = 10, until: float | None = None) -> None:
    """400 ppm in the kitchen: CO-1 (P1) within minutes, through the real decoder and engine."""
    messages = scenarios.readings(
        site="t1", device="s-1", start=T0, end=T0 + minutes * 60, co=lambda t: 400.0
    )
    replay(
        r.engine, r.decoder, io.BytesIO(scenarios.jsonl(messages)), until=until, emit=lambda t: r.emit([t])
    )


async def enrol(r: Rig, rx: Receiver, phone: str, person: str = "p-1") -> str:
    token = r.notifier.signer.sign("enroll", f"t1/{person}", expires=time.time() + 60)
    async with r.http() as http:
        res = await http.post(
            "/api/v1/push/subscriptions", json={"token": token, "subscription": rx.phone(phone)}
        )
    assert res.status_code == 201, res.text
    return str(res.json()["id"])


async def test_p1_goes_out_on_every_channel_at_once_and_the_link_acknowledges_it(tmp_path: Path) -> None:
    with Receiver() as rx:
        async with rig(tmp_path, rx) as r:
            await enrol(r, rx, "p1-phone")
            co_exposure(
                r, minutes=3
            )  # raised at ~75 s; the escalation deadline (5 min later) not yet reached
            raised = next(t for t in r.transitions if t.rule == "CO-1" and t.transition == "raised")
            await r.settle(
                lambda: (
                    bool(rx.at("/push/p1-phone", 201))
                    and bool(rx.at("/apprise/p-1"))
                    and bool(rx.at("/bot/c-1"))
                    and bool(rx.at("/bot/pm"))
                    and bool(rx.at("/hook"))
                )
            )
            # The push service saw a valid VAPID JWT and the phone could decrypt the message.
            push = rx.at("/push/p1-phone", 201)[0]
            message = push.decrypted
            assert (
                message is not None and message["alarm_id"] == raised.alarm_id and message["severity"] == "P1"
            )
            assert push.headers["urgency"] == "high" and int(push.headers["ttl"]) == 3600
            assert "一氧化碳" in message["title_zh"] and message["ack_url"].startswith("http://gateway/ack/")
            # The DingTalk-style bot got text with the acknowledgement link; WeCom-style likewise.
            bot = json.loads(rx.at("/bot/c-1")[0].body)
            assert bot["msgtype"] == "text" and "http://gateway/ack/" in bot["text"]["content"]
            # The webhook is signed over timestamp and body.
            hook = rx.at("/hook")[0]
            expected = hmac.new(
                b"hook-secret-for-tests",
                hook.headers["x-guardian-timestamp"].encode() + b"." + hook.body,
                hashlib.sha256,
            ).hexdigest()
            assert hook.headers["x-guardian-signature"] == f"sha256={expected}"
            assert hook.headers["idempotency-key"] == json.loads(hook.body)["delivery"]

            async with r.http() as http:
                # The service worker's receipt turns 'sent' into 'delivered'.
                res = await http.post(
                    "/api/v1/push/receipt", json={"delivery": message["delivery"], "token": message["ack"]}
                )
                assert res.status_code == 204
                # Opening the link shows a button and acknowledges nothing (link scanners open links).
                token = message["ack"]
                page = await http.get(f"/ack/{token}")
                assert page.status_code == 200 and "<form" in page.text
                assert not any(t.transition == "acknowledged" for t in r.transitions)
                res = await http.post(f"/api/v1/ack/{token}")
                assert res.status_code == 200 and res.json() == {
                    "alarm_id": raised.alarm_id,
                    "acknowledged": True,
                }
                # A changed token is refused.
                forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
                assert (await http.post(f"/api/v1/ack/{forged}")).status_code == 403

            ack = next(t for t in r.transitions if t.transition == "acknowledged")
            assert ack.by == "p-1" and ack.alarm_id == raised.alarm_id
            # The acknowledgement stops the escalation chain: nothing for the grid officer an hour later.
            r.emit(r.engine.advance(raised.ts + 3600))
            assert not any(t.transition == "escalated" for t in r.transitions)
            # Everyone told hears it is handled: the push replaces the phone's notification.
            await r.settle(
                lambda: any((p.decrypted or {}).get("transition") == "acknowledged" for p in rx.at("/push/"))
            )
            deliveries = await r.notifier.deliveries(raised.alarm_id)
            states = {(d["recipient"], d["channel"], d["transition"]): d for d in deliveries}
            push_state = states[("p-1", "webpush", "raised")]
            assert push_state["state"] == "delivered" and push_state["acked_at"] is not None
            assert states[("c-1", "bot", "raised")]["state"] == "delivered"
            assert not rx.at("/apprise/o-1"), "the grid officer is only told on escalation"
            assert any(b"state=delivered" in line and b"channel=webpush" in line for line in r.lines.lines)


async def test_unacknowledged_p1_escalates_at_the_deadline_in_replay_time(tmp_path: Path) -> None:
    with Receiver() as rx:
        async with rig(tmp_path, rx) as r:
            co_exposure(r, minutes=20)
            raised = next(t for t in r.transitions if t.rule == "CO-1" and t.transition == "raised")
            escalated = next(t for t in r.transitions if t.transition == "escalated")
            assert escalated.ts - raised.ts == 300 and escalated.notify == (Audience.GRID,)
            await r.settle(lambda: bool(rx.at("/apprise/o-1")))
            bodies = [json.loads(m.body)["message"] for m in rx.at("/apprise/o-1")]
            assert any("Unanswered: " in b and "无人响应" in b for b in bodies), bodies


async def test_every_alarm_gets_through_500_timeout_429_410_and_errcode(tmp_path: Path) -> None:
    with Receiver() as rx:
        async with rig(tmp_path, rx) as r:
            await enrol(r, rx, "alive")
            dead = await enrol(r, rx, "dead")
            rx.gone.add("dead")
            rx.script = {
                "/push/alive": [Fault(500)],
                "/apprise/p-1": [Fault(200, delay=3.0)],  # longer than the 2 s send timeout
                "/bot/c-1?access_token=t": [Fault(200, b'{"errcode":130101,"errmsg":"send too fast"}')],
                "/bot/pm?key=k": [Fault(429, headers={"Retry-After": "1"})],
                "/hook": [Fault(503)],
            }
            alarms = [
                transition(
                    "GAS-2",
                    n=i,
                    ts=time.time(),
                    notify=(Audience.RESIDENTS, Audience.CONTACTS, Audience.PROPERTY),
                )
                for i in range(3)
            ]
            for t in alarms:
                r.notifier.offer(t)
            ok = {"/push/alive": 201, "/apprise/p-1": 200, "/bot/c-1": 200, "/bot/pm": 200, "/hook": 200}

            await r.settle(lambda: all(len(rx.at(p, ok[p])) >= 3 for p in ok), within=40)
            # Every channel got every alarm; at most one duplicate per fault injected on it.
            for prefix, status in ok.items():
                assert 3 <= len(rx.at(prefix, status)) <= 4, (prefix, len(rx.at(prefix, status)))
            # The 429 was honoured: the retry came no sooner than Retry-After.
            pm = rx.at("/bot/pm")
            later = [q.at - pm[0].at for q in pm[1:] if q.at - pm[0].at > 0.05]  # not those already in flight
            assert pm[0].status == 429 and later and min(later) >= 0.9
            # The dead subscription was removed after its 410 and is not tried again.
            assert dead not in r.notifier.subscriptions and len(rx.at("/push/dead")) == 3
            r.notifier.offer(transition("GAS-2", n=9, ts=time.time(), notify=(Audience.RESIDENTS,)))
            await r.settle(lambda: len(rx.at("/push/alive", 201)) >= 4)
            assert len(rx.at("/push/dead")) == 3


async def test_p3_waits_on_standby_and_falls_back_when_the_push_fails(tmp_path: Path) -> None:
    with Receiver() as rx:
        async with rig(tmp_path, rx, max_attempts=3) as r:
            await enrol(r, rx, "flaky")
            rx.script = {"/push/flaky": [Fault(500)] * 10}
            t = transition("HLT-3", severity=Severity.P4, ts=time.time(), notify=(Audience.RESIDENTS,))
            r.notifier.offer(t)
            await r.settle(lambda: bool(rx.at("/apprise/p-1")))
            await r.settle(lambda: len(rx.at("/push/flaky")) == 3)
            assert len(rx.at("/apprise/p-1")) == 1, "one fallback per fault"
            # the receiver counts the third attempt before the notifier has read its answer
            for _ in range(100):
                states = {
                    d["channel"]: d["state"]
                    for d in await r.notifier.deliveries(t.alarm_id)
                    if d["recipient"] == "p-1"
                }
                if states.get("webpush") != "queued":
                    break
                await asyncio.sleep(0.05)
            assert states == {"webpush": "failed", "apprise": "delivered"}


async def test_a_bot_over_its_rate_gets_one_digest_not_a_storm(tmp_path: Path) -> None:
    with Receiver() as rx:
        async with rig(tmp_path, rx, bot_per_minute=5) as r:
            now = time.time()
            alarms = [
                transition("DR-2", n=i, ts=now, severity=Severity.P3, notify=(Audience.PROPERTY,))
                for i in range(30)
            ]
            for t in alarms:
                r.notifier.offer(t)
            await r.settle(lambda: len(rx.at("/bot/pm")) >= 1)
            await r.settle(lambda: not any(d.channel == "bot" for d in r.notifier.live.values()))
            texts = [json.loads(q.body)["text"]["content"] for q in rx.at("/bot/pm")]
            assert 1 <= len(texts) <= 5, texts  # never more than the bot's budget in its first minute
            counted = [re.search(r"(\d+) alarms", t) for t in texts]
            assert sum(int(m.group(1)) if m else 1 for m in counted) == 30, texts
            digests = [t for t, m in zip(texts, counted, strict=True) if m]
            assert digests and all("条报警" in t and "http://gateway/ack/" not in t for t in digests)
            for t in alarms:
                states = [
                    d["state"] for d in await r.notifier.deliveries(t.alarm_id) if d["channel"] == "bot"
                ]
                assert states == ["delivered"], (t.alarm_id, states)


async def test_quiet_hours_hold_p3_for_residents_until_morning_never_p1(tmp_path: Path) -> None:
    import datetime as dt
    import zoneinfo

    with Receiver() as rx:
        async with rig(tmp_path, rx, quiet_hours="22:00-07:00") as r:
            zone = zoneinfo.ZoneInfo("Asia/Shanghai")
            night = dt.datetime(2027, 1, 15, 23, 30, tzinfo=zone).timestamp()
            small_hours = dt.datetime(2027, 1, 16, 3, 0, tzinfo=zone).timestamp()
            morning = dt.datetime(2027, 1, 16, 7, 0, tzinfo=zone).timestamp()
            noon = dt.datetime(2027, 1, 16, 12, 0, tzinfo=zone).timestamp()
            assert r.notifier.planner.after_quiet("t1", night) == morning
            assert r.notifier.planner.after_quiet("t1", small_hours) == morning
            assert r.notifier.planner.after_quiet("t1", noon) == noon
            p1 = r.notifier.plan(transition("CO-1", ts=night), night)
            p4 = r.notifier.plan(transition("HLT-3", severity=Severity.P4, ts=night), night)
            assert {d.next_at for d in p1} == {night}
            assert {d.next_at for d in p4 if d.recipient == "p-1"} == {morning}
            assert {d.next_at for d in p4 if d.recipient == "webhook"} == {night}


async def test_duress_never_reaches_the_person_under_duress_nor_a_siren(tmp_path: Path) -> None:
    with Receiver() as rx:
        async with rig(tmp_path, rx, sirens=True) as r:  # a siren channel: its absence below is a choice
            t = transition("DR-7", notify=(Audience.PROPERTY, Audience.GRID), where=DOOR)
            planned = r.notifier.plan(t, time.time())
            assert {d.recipient for d in planned} == {"pm-1", "o-1", "webhook"}
            siren = r.notifier.plan(transition("GAS-2", where=DOOR), time.time())
            assert any(d.channel == "mqtt" for d in siren)
