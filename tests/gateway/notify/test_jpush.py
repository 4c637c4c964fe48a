"""JPush to the residents' app against a local JPush that checks what JPush checks: a P1 is a system /
important message on every phone maker's channel and carries the alarm's link, a wrong secret and a stale
registration id are told apart, a lost answer is sent again with its cid and pushed once, the app's rate
limit holds every send, and the Report API's counts become receipts."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import httpx
import msgspec
import pytest
from pydantic import ValidationError

from alerts.rule import Audience, Severity
from alerts.signals import Transition, Where
from gateway.config.providers import JPushSettings
from gateway.notify.channels.base import Outcome, delivery_ref
from gateway.notify.channels.jpush import CHINA, REPORT_GRACE, JPushChannel, api_url, registration_id
from gateway.notify.messages import Message, render
from gateway.notify.outbox import Delivery
from tests.gateway.notify.jpush_receiver import Fault, JPushReceiver

APP_KEY = "7d431e42dfa6a6d693ac2d04"
SECRET = "5e987ac6d2e04d95a9d8f0d1"
ACK = "https://guardian.example.cn/ack/eyJwIjoiYWNrIiwiciI6InQxL3AtMSIsImEiOiJ0MTpDTy0xIn0.c2lnbmF0dXJlLW9mLXRoZS1saW5r"
PHONES = {
    "1104a8979278ae64e75": "jpush",
    "1a0018970aa3b1c2d3e": "xiaomi",
    "160a3797c8e4f5a6b7c": "huawei",
    "13165ffa4e0c8d9e0f1": "honor",
    "1517bfd3f7c1a2b3c4d": "oppo",
    "18071adc0305e6f7a8b": "vivo",
    "191e35f7e0b1c2d3e4f": "ios",
}
BY = {how: rid for rid, how in PHONES.items()}
MAKERS = ("xiaomi", "huawei", "honor", "oppo", "vivo")


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rx() -> Iterator[JPushReceiver]:
    with JPushReceiver(
        APP_KEY,
        SECRET,
        PHONES,
        xiaomi_private_channels=("131001", "131002"),
        oppo_channels=("co_alarm", "alarm"),
    ) as receiver:
        yield receiver


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as c:
        yield c


def settings(rx: JPushReceiver, **overrides: Any) -> JPushSettings:
    values: dict[str, Any] = {
        "app_key": APP_KEY,
        "master_secret": SECRET,
        "base_url": rx.url,
        "report_url": rx.url,
        "android_channel_ids": {"P1": "co_alarm", "*": "alarm"},
        "xiaomi_channel_ids": {"P1": "131001", "*": "131002"},
        "oppo_channel_ids": {"P1": "co_alarm", "*": "alarm"},
    }
    values.update(overrides)
    return JPushSettings(**values)


def message(severity: Severity = Severity.P1, kind: str = "raised") -> Message:
    t = Transition(
        ts=time.time(),
        alarm_id=f"t1:CO-1:s-0:{time.time_ns()}",
        rule="CO-1",
        severity=severity,
        transition=kind,  # type: ignore[arg-type]
        where=Where("t1", "b3", "b3-u2", "b3-u2-501"),
        subject="s-0",
        notify=(Audience.RESIDENTS,),
    )
    return msgspec.structs.replace(render(t), ack_url=ACK)


def delivery(key: str, target: str, severity: str = "P1") -> Delivery:
    now = time.time()
    msg = message(Severity[severity])
    return Delivery(
        key=key,
        alarm_id=msg.alarm_id,
        kind="alert",
        transition="raised",
        ts=now,
        site="t1",
        building="b3",
        rule="CO-1",
        severity=severity,
        recipient="p-1",
        audience="residents",
        channel="jpush",
        target=target,
        rank=0,
        state="queued",
        next_at=now,
        queued_at=now,
        message=msg,
    )


async def attempt(channel: JPushChannel, d: Delivery) -> Outcome:
    d.attempts += 1
    return await channel.send(d, d.message)


async def test_a_p1_is_an_important_message_on_every_maker_and_carries_the_alarm_link(
    rx: JPushReceiver, client: httpx.AsyncClient
) -> None:
    channel = JPushChannel(client, settings(rx))
    for how, rid in BY.items():
        d = delivery(f"k-{how}", f"jpush://{rid}")
        outcome = await attempt(channel, d)
        assert outcome.ok, outcome
        [push] = rx.received(rid)
        body = push.body
        assert body["audience"] == {"registration_id": [rid]}
        assert body["platform"] == ["android", "ios"]
        assert push.cid is not None and push.cid.startswith(f"{APP_KEY}-") and push.cid in rx.cids
        assert channel.pushed[d.key].msg_id == push.msg_id

        options = body["options"]
        assert options["classification"] == 1  # a system message, whichever maker carries it
        assert options["time_to_live"] == 3600
        assert options["apns_production"] is True

        android = body["notification"]["android"]
        assert android["title"] == d.message.title_zh  # Chinese first: the residents' language
        assert android["alert"].startswith(d.message.body_zh)
        assert android["priority"] == 2
        assert android["category"] == "alarm"
        assert android["channel_id"] == "co_alarm"
        assert android["extras"]["url"] == ACK
        assert android["extras"]["delivery"] == delivery_ref(d.key)

        ios = body["notification"]["ios"]
        assert ios["alert"] == {"title": d.message.title_zh, "body": android["alert"]}
        assert ios["interruption-level"] == "time-sensitive"
        assert ios["sound"] == "default"
        assert ios["extras"]["url"] == ACK

        vendors = options["third_party_channel"]
        assert vendors["huawei"] == {"importance": "NORMAL", "category": "DEVICE_REMINDER"}
        assert vendors["honor"] == {"importance": "NORMAL"}
        assert vendors["oppo"] == {
            "channel_id": "co_alarm",
            "category": "DEVICE_REMINDER",
            "notify_level": 16,
        }
        assert vendors["vivo"] == {"classification": 1, "category": "DEVICE_REMINDER"}
        assert vendors["xiaomi"] == {"channel_id": "131001"}
        if how in MAKERS:
            assert rx.classified(push, how) == "important"


async def test_lower_severities_are_quieter_and_critical_alerts_only_with_apples_entitlement(
    rx: JPushReceiver, client: httpx.AsyncClient
) -> None:
    channel = JPushChannel(client, settings(rx))
    assert (await attempt(channel, delivery("k-p4", f"jpush://{BY['oppo']}", "P4"))).ok
    [push] = rx.received(BY["oppo"])
    options = push.body["options"]
    assert options["time_to_live"] == 24 * 3600
    assert options["classification"] == 1  # still a device notice, never marketing
    assert options["third_party_channel"]["oppo"]["notify_level"] == 2
    assert options["third_party_channel"]["xiaomi"] == {"channel_id": "131002"}
    assert push.body["notification"]["android"]["priority"] == 0
    assert push.body["notification"]["ios"]["interruption-level"] == "active"
    assert rx.classified(push, "oppo") == "quiet: notify_level 2"

    critical = JPushChannel(client, settings(rx, ios_critical_alerts=True))
    assert (await attempt(critical, delivery("k-crit", f"jpush://{BY['ios']}"))).ok
    [push] = rx.received(BY["ios"])
    ios = push.body["notification"]["ios"]
    assert ios["interruption-level"] == "critical"
    assert ios["sound"] == {"critical": 1, "name": "default", "volume": 1.0}


async def test_a_wrong_master_secret_is_refused_not_retried(
    rx: JPushReceiver, client: httpx.AsyncClient
) -> None:
    channel = JPushChannel(client, settings(rx, master_secret="not-the-secret"))
    outcome = await attempt(channel, delivery("k-1", f"jpush://{BY['jpush']}"))
    assert outcome.refused and not outcome.retry and not outcome.gone
    assert outcome.status == 401 and "1004" in outcome.error
    assert rx.received(BY["jpush"]) == []


async def test_a_registration_id_jpush_does_not_know_is_gone(
    rx: JPushReceiver, client: httpx.AsyncClient
) -> None:
    channel = JPushChannel(client, settings(rx))
    outcome = await attempt(channel, delivery("k-1", "jpush://1a2b3c4d5e6f7a8b9c0"))
    assert outcome.gone and not outcome.retry and not outcome.refused
    assert outcome.status == 400 and "1011" in outcome.error

    pushes = len(rx.at("/v3/push"))
    outcome = await attempt(channel, delivery("k-2", "jpush://not an id!"))
    assert outcome.gone and len(rx.at("/v3/push")) == pushes  # never asked JPush
    assert not channel.claims("jpush://not an id!") and not channel.claims("dingtalk://token")
    assert channel.claims(f"jpush://{BY['vivo']}")
    assert channel.circuit(f"jpush://{BY['vivo']}") == f"jpush:{BY['vivo']}"


async def test_a_lost_answer_is_sent_again_with_its_cid_and_pushed_once(rx: JPushReceiver) -> None:
    rid = BY["huawei"]
    rx.script["/v3/push"] = [Fault(delay=1.5)]  # JPush pushes, then its answer is late
    async with httpx.AsyncClient(timeout=0.5) as client:
        channel = JPushChannel(client, settings(rx))
        d = delivery("k-1", f"jpush://{rid}")
        first = await attempt(channel, d)
        assert not first.ok and first.retry and first.ambiguous
        assert len(rx.received(rid)) == 1  # it did go out

        second = await attempt(channel, d)
        assert second.ok, second
        assert len(rx.received(rid)) == 1  # and only once
        calls = [c for c in rx.at("/v3/push") if c.body.get("cid")]
        assert len(calls) == 2 and calls[0].body["cid"] == calls[1].body["cid"]
        assert channel.pushed[d.key].msg_id == rx.received(rid)[0].msg_id

        # a new delivery to the same phone is a new message: its own cid, pushed
        assert (await attempt(channel, delivery("k-2", f"jpush://{rid}"))).ok
        pushes = rx.received(rid)
        assert len(pushes) == 2 and pushes[0].cid != pushes[1].cid


async def test_an_expired_cid_is_replaced_and_the_push_goes(
    rx: JPushReceiver, client: httpx.AsyncClient
) -> None:
    channel = JPushChannel(client, settings(rx))
    assert (await attempt(channel, delivery("k-0", f"jpush://{BY['jpush']}"))).ok  # fills the pool
    for cid in rx.cids:
        rx.cids[cid] -= 2 * 86400  # JPush has forgotten them (a cid lives a day)
    d = delivery("k-1", f"jpush://{BY['vivo']}")
    first = await attempt(channel, d)
    assert first.retry and "cid" in first.error
    assert (await attempt(channel, d)).ok
    assert len(rx.received(BY["vivo"])) == 1


async def test_the_apps_rate_limit_holds_every_send_until_its_window_resets(
    rx: JPushReceiver, client: httpx.AsyncClient
) -> None:
    clock = Clock()
    channel = JPushChannel(client, settings(rx), clock=clock)
    assert (await attempt(channel, delivery("k-0", f"jpush://{BY['jpush']}"))).ok  # cids in the pool
    rx.use_up_quota(reset=7)
    outcome = await attempt(channel, delivery("k-1", f"jpush://{BY['xiaomi']}"))
    assert outcome.retry and not outcome.ok and outcome.status == 429 and "2002" in outcome.error
    assert outcome.retry_after is not None and 6 <= outcome.retry_after <= 7  # X-Rate-Limit-Reset

    calls = len(rx.calls)
    other = await attempt(channel, delivery("k-2", f"jpush://{BY['oppo']}"))  # another phone: the same app
    assert other.retry and other.retry_after is not None and other.retry_after > 5
    assert len(rx.calls) == calls  # nothing spent on a refusal

    clock.now += 8
    rx.new_window()
    assert (await attempt(channel, delivery("k-1b", f"jpush://{BY['xiaomi']}"))).ok


async def test_a_cid_call_that_meets_the_limit_holds_the_push_too(
    rx: JPushReceiver, client: httpx.AsyncClient
) -> None:
    channel = JPushChannel(client, settings(rx))
    rx.use_up_quota(reset=7)
    outcome = await attempt(channel, delivery("k-1", f"jpush://{BY['xiaomi']}"))
    assert outcome.retry and not outcome.ok and "rate limit" in outcome.error
    assert outcome.retry_after is not None and 6 <= outcome.retry_after <= 7
    # the cid call shares the Push API's quota and met the limit first: no push was tried with it spent
    assert [(c.path, c.status) for c in rx.calls] == [("/v3/push/cid", 429)]


async def test_the_last_call_of_the_minute_stops_the_channel_before_jpush_refuses(
    client: httpx.AsyncClient,
) -> None:
    with JPushReceiver(APP_KEY, SECRET, PHONES, quota=2) as rx:
        clock = Clock()
        channel = JPushChannel(client, settings(rx), clock=clock)
        assert (await attempt(channel, delivery("k-1", f"jpush://{BY['jpush']}"))).ok  # a cid call, a push
        held = await attempt(channel, delivery("k-2", f"jpush://{BY['ios']}"))
        assert held.retry and held.retry_after is not None
        assert [c.status for c in rx.calls] == [200, 200]


async def test_server_errors_are_retried_and_payload_refusals_reported(
    rx: JPushReceiver, client: httpx.AsyncClient
) -> None:
    channel = JPushChannel(client, settings(rx))
    rx.script["/v3/push"] = [Fault(503, 1030, "内部服务超时")]
    outcome = await attempt(channel, delivery("k-1", f"jpush://{BY['jpush']}"))
    assert outcome.retry and not outcome.refused and outcome.status == 503

    rx.script["/v3/push"] = [Fault(400, 1005, "msg body is too big")]
    outcome = await attempt(channel, delivery("k-2", f"jpush://{BY['jpush']}"))
    assert outcome.refused and not outcome.retry

    # the receiver refuses what JPush refuses: a key it does not know (the docs' own build_id slip)
    auth = httpx.BasicAuth(APP_KEY, SECRET)
    body = {
        "platform": ["android"],
        "audience": {"registration_id": [BY["jpush"]]},
        "notification": {"android": {"alert": "x", "build_id": 1}},
    }
    res = await client.post(f"{rx.url}/v3/push", json=body, auth=auth)
    assert res.status_code == 400 and res.json()["error"]["code"] == 1009


async def test_reports_become_delivered_and_failed_receipts(
    rx: JPushReceiver, client: httpx.AsyncClient
) -> None:
    clock = Clock()
    channel = JPushChannel(client, settings(rx), clock=clock)
    sent = {how: delivery(f"k-{how}", f"jpush://{BY[how]}") for how in ("jpush", "xiaomi", "ios", "oppo")}
    for d in sent.values():
        assert (await attempt(channel, d)).ok
    rx.arrive(BY["jpush"])  # on JPush's own connection
    rx.arrive(BY["xiaomi"])  # through Xiaomi's channel, reported by Xiaomi's receipt

    receipts = {r.ref: r for r in await channel.poll(list(sent.values()))}
    assert set(receipts) == {delivery_ref("k-jpush"), delivery_ref("k-xiaomi")}
    assert all(r.state == "delivered" for r in receipts.values())
    assert receipts[delivery_ref("k-jpush")].detail == "jpush_received=1"
    assert receipts[delivery_ref("k-xiaomi")].detail == "android_pns_received=1"
    msg_ids = [rx.received(BY[how])[0].msg_id for how in sent]
    assert rx.at("/v3/received/detail")[0].query == {"msg_ids": [",".join(msg_ids)]}  # one call for all

    assert await channel.poll(list(sent.values())) == []  # sent to Apple and OPPO, not yet on the phones
    assert rx.at("/v3/received/detail")[-1].query == {"msg_ids": [",".join(msg_ids[2:])]}

    clock.now += 3600 + REPORT_GRACE + 1  # past the P1's time_to_live: JPush keeps it no longer
    late = await channel.poll(list(sent.values()))
    assert {(r.ref, r.state) for r in late} == {
        (delivery_ref("k-ios"), "failed"),
        (delivery_ref("k-oppo"), "failed"),
    }
    assert await channel.poll(list(sent.values())) == []  # each said once


async def test_vip_apps_ask_the_status_of_each_registration_id(client: httpx.AsyncClient) -> None:
    with JPushReceiver(APP_KEY, SECRET, PHONES, vip=True) as rx:
        channel = JPushChannel(client, settings(rx, report="status"))
        huawei, vivo = delivery("k-h", f"jpush://{BY['huawei']}"), delivery("k-v", f"jpush://{BY['vivo']}")
        for d in (huawei, vivo):
            assert (await attempt(channel, d)).ok
        rx.arrive(BY["huawei"])
        msg_id = channel.pushed["k-h"].msg_id
        [receipt] = await channel.poll([huawei, vivo])
        assert (receipt.ref, receipt.state, receipt.detail) == (delivery_ref("k-h"), "delivered", "status 0")
        call = rx.at("/v3/status/message")[0]
        assert call.body["registration_ids"] == [BY["huawei"]]
        assert call.body["msg_id"] == int(msg_id)  # a number, as in JPush's example
        assert call.body["date"] == datetime.now(CHINA).strftime("%Y-%m-%d")

    with JPushReceiver(APP_KEY, SECRET, PHONES) as rx:  # not VIP: the interface is refused, nothing is said
        channel = JPushChannel(client, settings(rx, report="status"))
        d = delivery("k-1", f"jpush://{BY['huawei']}")
        assert (await attempt(channel, d)).ok
        rx.arrive(BY["huawei"])
        assert await channel.poll([d]) == []
        assert rx.at("/v3/status/message")[0].status == 403


def test_settings_are_checked_and_beijing_hosts_keep_their_paths() -> None:
    with pytest.raises(ValidationError):
        JPushSettings(app_key=APP_KEY, master_secret=SECRET, xiaomi_channel_ids={"urgent": "1"})
    with pytest.raises(ValidationError):
        JPushSettings(app_key=APP_KEY, master_secret=SECRET, time_to_live={"P1": 30 * 86400})
    with pytest.raises(ValidationError):
        JPushSettings(app_key=APP_KEY, master_secret=SECRET, surprise=True)
    s = JPushSettings(app_key=APP_KEY, master_secret=SECRET)
    assert s.master_secret.get_secret_value() == SECRET and SECRET not in json.dumps(
        s.model_dump(mode="json")
    )
    assert api_url(s.base_url, "/push") == "https://api.jpush.cn/v3/push"
    assert api_url(s.report_url, "/received/detail") == "https://report.jpush.cn/v3/received/detail"
    beijing = "https://bjapi.push.jiguang.cn/v3/report"
    assert api_url(beijing, "/received/detail") == f"{beijing}/received/detail"
    assert registration_id("jpush://1104a8979278ae64e75/") == "1104a8979278ae64e75"
    assert registration_id("jpush:1104a8979278ae64e75") is None
