"""The Official Account and WeCom app channels against a local WeChat: one token fetch for a burst, one
refresh for a revoked or expired token, refusals that stop at once, template fields cut to their types,
WeCom's duplicate check keeping a retried card off the phone, and receipts only from signed pushes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest

from alerts.rule import Audience, Severity
from alerts.signals import Transition, Where
from gateway.config.providers import WeChatSettings, WeComSettings
from gateway.notify import messages
from gateway.notify.channels.base import delivery_ref
from gateway.notify.channels.wechat_oa import WeChatOfficialAccountChannel
from gateway.notify.channels.wechat_token import AccessTokens, official_account_token
from gateway.notify.channels.wecom_app import WeComAppChannel
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery
from tests.gateway.notify.wechat_receiver import (
    CallbackSink,
    Fault,
    WeChatServer,
    event_xml,
    post,
    signed_push,
)

APPID, SECRET = "wx0123456789abcdef", "0123456789abcdef0123456789abcdef"
CORPID, CORPSECRET, AGENTID = "ww0123456789abcdef", "corp-app-secret", 1000002
FOLLOWERS = tuple(f"oPENID{n:022d}" for n in range(60))
TEMPLATE = {"tpl_alarm": ["thing1", "thing2", "time3", "thing4"]}
SERVER_TOKEN = "server-config-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TS = 1714547467.0  # 2024-05-01 15:11:07 in Shanghai
WHERE = Where("t1", "b1", "b1-u1", "b1-u1-101")
SEND = "/cgi-bin/message/template/send"
APP_SEND = "/cgi-bin/message/send"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def message(kind: str = "raised", rule: str = "GAS-1", *, ts: float = TS, link: bool = True) -> Message:
    t = Transition(
        ts=ts,
        alarm_id=f"t1:{rule}:s-1:{round(ts * 1000)}",
        rule=rule,
        severity=Severity.P1,
        transition=kind,  # type: ignore[arg-type]
        where=WHERE,
        subject="s-1",
        notify=(Audience.RESIDENTS,),
    )
    msg = messages.render(t)
    if link:
        msg = msgspec.structs.replace(msg, ack_url=f"https://guardian.example.cn/ack/{kind}.{round(ts)}")
    return msg


def delivery(channel: str, target: str, msg: Message, key: str = "k-1") -> Delivery:
    return Delivery(
        key=key,
        alarm_id=msg.alarm_id,
        kind="alert",
        transition=msg.transition,
        ts=msg.ts,
        site="t1",
        building="b1",
        rule=msg.rule,
        severity=msg.severity,
        recipient="p-1",
        audience="R",
        channel=channel,
        target=target,
        rank=0,
        state="queued",
        next_at=0.0,
        queued_at=0.0,
        message=msg,
    )


@pytest.fixture
def wx() -> Iterator[WeChatServer]:
    with WeChatServer() as server:
        server.account(APPID, SECRET, followers=FOLLOWERS, **TEMPLATE)
        server.app(CORPID, CORPSECRET, AGENTID, members=("zhangwei", "LiNa"))
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as c:
        yield c


def oa(wx: WeChatServer, client: httpx.AsyncClient, **overrides: Any) -> WeChatOfficialAccountChannel:
    tokens = overrides.pop("tokens", None)
    options: dict[str, Any] = {
        "appid": APPID,
        "secret": SECRET,
        "template_id": "tpl_alarm",
        "base_url": wx.url,
        "callback_token": SERVER_TOKEN,
    }
    options.update(overrides)
    return WeChatOfficialAccountChannel(
        client, WeChatSettings(**options), {"t1": "Asia/Shanghai"}, tokens=tokens
    )


def wecom(wx: WeChatServer, client: httpx.AsyncClient, **overrides: Any) -> WeComAppChannel:
    options: dict[str, Any] = {
        "corpid": CORPID,
        "corpsecret": CORPSECRET,
        "agentid": AGENTID,
        "base_url": wx.url,
    }
    options.update(overrides)
    return WeComAppChannel(client, WeComSettings(**options), {"t1": "Asia/Shanghai"})


async def until(done: Any, within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not done():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


# -- the token -------------------------------------------------------------------------------------------------
async def test_fifty_concurrent_sends_share_one_token_fetch(
    wx: WeChatServer, client: httpx.AsyncClient
) -> None:
    channel = oa(wx, client)
    msg = message()
    sends = [channel.send(delivery("wechat", f"wechat://{o}", msg, f"k-{o}"), msg) for o in FOLLOWERS[:50]]
    outcomes = await asyncio.gather(*sends)
    assert all(o.ok for o in outcomes), outcomes[0]
    fetches = wx.token_requests()
    assert len(fetches) == 1 and fetches[0].path == "/cgi-bin/stable_token"  # the stable token, by default
    assert json.loads(fetches[0].body)["force_refresh"] is False
    assert {s.user for s in wx.shown} == set(FOLLOWERS[:50])
    assert len({c.query["access_token"] for c in wx.sends(SEND)}) == 1


@pytest.mark.parametrize("end", ["revoke", "expire"])
async def test_a_revoked_or_expired_token_is_fetched_again_once(
    wx: WeChatServer, client: httpx.AsyncClient, end: str
) -> None:
    channel = oa(wx, client)
    msg = message()
    assert (await channel.send(delivery("wechat", f"wechat://{FOLLOWERS[0]}", msg), msg)).ok
    getattr(wx, end)(APPID)  # 40001 for a token ended early, 42001 for one whose time is up
    sends = [channel.send(delivery("wechat", f"wechat://{o}", msg, f"k-{o}"), msg) for o in FOLLOWERS[1:21]]
    outcomes = await asyncio.gather(*sends)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    assert len(wx.token_requests()) == 2  # the first, and one refresh shared by all twenty
    rejected = [c for c in wx.sends(SEND) if c.answer["errcode"] != 0]
    assert rejected and {c.answer["errcode"] for c in rejected} == {40001 if end == "revoke" else 42001}
    assert len(wx.shown) == 21


async def test_the_token_is_renewed_before_it_expires(wx: WeChatServer, client: httpx.AsyncClient) -> None:
    clock = Clock()
    tokens = AccessTokens(client, official_account_token(APPID, SECRET, base_url=wx.url), clock=clock)
    channel = oa(wx, client, tokens=tokens)
    msg = message()
    target = f"wechat://{FOLLOWERS[0]}"
    assert (await channel.send(delivery("wechat", target, msg), msg)).ok
    clock.now += 7200 - 301  # 5 minutes and a second before it ends: still good
    assert (await channel.send(delivery("wechat", target, msg, "k-2"), msg)).ok
    assert len(wx.token_requests()) == 1
    clock.now += 2  # inside the last 5 minutes: fetched before any send is refused for it
    assert (await channel.send(delivery("wechat", target, msg, "k-3"), msg)).ok
    assert len(wx.token_requests()) == 2
    assert all(c.answer["errcode"] == 0 for c in wx.sends(SEND))


async def test_a_send_given_up_at_its_deadline_does_not_cancel_the_shared_fetch(
    wx: WeChatServer, client: httpx.AsyncClient
) -> None:
    channel = oa(wx, client)
    wx.script["/cgi-bin/stable_token"] = [Fault(after=True, delay=0.5)]  # a slow token endpoint
    msg = message()
    for openid in FOLLOWERS[:10]:  # the sender's per-send deadline, shorter than the fetch
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(
                channel.send(delivery("wechat", f"wechat://{openid}", msg, openid), msg), 0.05
            )
    assert (await channel.send(delivery("wechat", f"wechat://{FOLLOWERS[0]}", msg), msg)).ok
    assert len(wx.token_requests()) == 1 and channel.tokens.fetches == 1


@pytest.mark.parametrize(
    ("setup", "overrides", "code", "words"),
    [
        (None, {"secret": "f" * 32}, 40001, "secret is wrong"),
        (None, {"secret": "short"}, 40125, "appsecret is invalid"),
        (None, {"appid": "wx0000000000000000"}, 40013, "appid or corpid is wrong"),
        ("whitelist", {}, 40164, "not on the account's IP whitelist"),
    ],
)
async def test_a_refused_token_refuses_every_send_at_once_without_a_storm(
    wx: WeChatServer,
    client: httpx.AsyncClient,
    setup: str | None,
    overrides: dict[str, Any],
    code: int,
    words: str,
) -> None:
    if setup == "whitelist":
        wx.whitelisted = False
    channel = oa(wx, client, **overrides)
    msg = message()
    for _ in range(2):  # a burst, then another while the refusal is held
        sends = [
            channel.send(delivery("wechat", f"wechat://{o}", msg, f"k-{o}"), msg) for o in FOLLOWERS[:30]
        ]
        outcomes = await asyncio.gather(*sends)
        assert all(o.refused and not o.retry and not o.ok for o in outcomes)
        assert f"errcode {code}" in outcomes[0].error and words in outcomes[0].error
        assert SECRET not in outcomes[0].error and "f" * 32 not in outcomes[0].error
    assert len(wx.token_requests()) == 1
    assert wx.sends(SEND) == []


async def test_a_busy_token_endpoint_is_retried_after_a_pause(
    wx: WeChatServer, client: httpx.AsyncClient
) -> None:
    clock = Clock()
    tokens = AccessTokens(client, official_account_token(APPID, SECRET, base_url=wx.url), clock=clock)
    channel = oa(wx, client, tokens=tokens)
    wx.script["/cgi-bin/stable_token"] = [Fault(errcode=-1, errmsg="system error")]
    msg = message()
    sends = [channel.send(delivery("wechat", f"wechat://{o}", msg, f"k-{o}"), msg) for o in FOLLOWERS[:10]]
    outcomes = await asyncio.gather(*sends)
    assert all(o.retry and not o.refused for o in outcomes)
    assert len(wx.token_requests()) == 1  # the waiters shared the failure
    clock.now += 2.5
    assert (await channel.send(delivery("wechat", f"wechat://{FOLLOWERS[0]}", msg), msg)).ok
    assert len(wx.token_requests()) == 2


# -- template messages -----------------------------------------------------------------------------------------
async def test_a_template_message_carries_the_alarm_in_its_fields_and_links_to_its_page(
    wx: WeChatServer, client: httpx.AsyncClient
) -> None:
    wx.account(
        APPID, SECRET, followers=FOLLOWERS, tpl_p1=TEMPLATE["tpl_alarm"], tpl_other=TEMPLATE["tpl_alarm"]
    )
    per_severity = {"P1": "tpl_p1", "P2": "tpl_other", "P3": "tpl_other", "P4": "tpl_other"}
    channel = oa(wx, client, template_id=per_severity)
    msg = message()
    d = delivery("wechat", f"wechat://{FOLLOWERS[0]}", msg)
    assert (await channel.send(d, msg)).ok
    (shown,) = wx.shown_to(FOLLOWERS[0])
    body = shown.content
    assert body["template_id"] == "tpl_p1"
    assert body["url"] == msg.ack_url
    assert body["client_msg_id"] == delivery_ref(d.key)
    data = {k: v["value"] for k, v in body["data"].items()}
    assert data["thing1"] == "P1 燃气泄漏（一级）"  # noqa: RUF001
    assert data["thing2"] == "t1 b1-u1-101"
    assert data["time3"] == "2024-05-01 15:11"  # the site's time, not UTC
    # GAS-1's action is 21 characters: a thing field takes 20 (47003 beyond), so it is cut here
    assert data["thing4"] == "关闭燃气阀，勿动明火和电器开关，开窗通" + "…"  # noqa: RUF001
    assert all(len(v) <= 20 for v in data.values())
    assert all(set(v) == {"value"} for v in body["data"].values())  # no colours: WeChat shows none since 2023
    raw = wx.sends(SEND)[0].body
    assert "燃气".encode() in raw and b"\\u" not in raw


async def test_a_resident_who_unfollowed_is_gone_until_they_follow_again(
    wx: WeChatServer, client: httpx.AsyncClient
) -> None:
    channel = oa(wx, client)
    openid = FOLLOWERS[3]
    target = f"wechat://{openid}"
    wx.unfollow(APPID, openid)
    msg = message()
    outcome = await channel.send(delivery("wechat", target, msg), msg)
    assert outcome.gone and not outcome.retry and "43004" in outcome.error
    await channel.forget(target)  # what the sender does with a gone target
    again = await channel.send(delivery("wechat", target, msg, "k-2"), msg)
    assert again.gone and len(wx.sends(SEND)) == 1  # not asked again
    body, query = signed_push(
        event_xml({"ToUserName": "gh_0123456789ab", "FromUserName": openid, "CreateTime": 1, "MsgType": "event",
                   "Event": "subscribe"}),
        SERVER_TOKEN,
        openid=openid,
    )  # fmt: skip
    assert channel.receipts(body, {"X-Query": query}) == []  # they followed again
    wx.accounts[APPID].followers.add(openid)
    wx.accounts[APPID].unfollowed.discard(openid)
    assert (await channel.send(delivery("wechat", target, msg, "k-3"), msg)).ok


async def test_another_accounts_openid_is_refused_and_quota_is_retried(
    wx: WeChatServer, client: httpx.AsyncClient
) -> None:
    channel = oa(wx, client)
    msg = message()
    stranger = await channel.send(delivery("wechat", "wechat://oSOMEONEELSE000000000000000", msg), msg)
    assert stranger.refused and not stranger.gone and "40003" in stranger.error
    wx.script[SEND] = [Fault(errcode=45009, errmsg="reach max api daily quota limit")]
    quota = await channel.send(delivery("wechat", f"wechat://{FOLLOWERS[0]}", msg), msg)
    assert quota.retry and not quota.refused and quota.retry_after == 300.0
    assert (await channel.send(delivery("wechat", f"wechat://{FOLLOWERS[0]}", msg), msg)).ok


async def test_a_retry_after_a_timeout_sends_the_same_client_msg_id(wx: WeChatServer) -> None:
    async with httpx.AsyncClient(timeout=0.5, trust_env=False) as client:
        channel = oa(wx, client)
        wx.script[SEND] = [Fault(after=True, delay=1.0)]  # sent to the phone, answered too late
        msg = message()
        d = delivery("wechat", f"wechat://{FOLLOWERS[0]}", msg)
        first = await channel.send(d, msg)
        assert first.ambiguous and first.retry
        assert (await channel.send(d, msg)).ok
    calls = wx.sends(SEND)
    assert [json.loads(c.body)["client_msg_id"] for c in calls] == [delivery_ref(d.key)] * 2
    assert len(wx.shown_to(FOLLOWERS[0])) == 1


# -- WeCom -----------------------------------------------------------------------------------------------------
async def test_a_wecom_textcard_reaches_the_member(wx: WeChatServer, client: httpx.AsyncClient) -> None:
    channel = wecom(wx, client)
    msg = message()
    assert channel.claims("wecom-app://zhangwei")
    assert not channel.claims("wecom-app://@all") and not channel.claims("wecom-app://a|b")
    assert (await channel.send(delivery("wecom-app", "wecom-app://zhangwei", msg), msg)).ok
    (shown,) = wx.shown_to("zhangwei")
    assert shown.kind == "textcard"
    card = shown.content
    assert card["title"] == msg.title_zh
    assert card["url"] == msg.ack_url and card["btntxt"] == "确认处理"
    assert card["description"].startswith('<div class="highlight">关闭燃气阀')
    assert '<div class="gray">2024-05-01 15:11:07 t1 b1</div>' in card["description"]
    assert msg.alarm_id in card["description"]
    (call,) = wx.sends(APP_SEND)
    sent = json.loads(call.body)
    assert (sent["agentid"], sent["enable_duplicate_check"], sent["duplicate_check_interval"]) == (
        AGENTID,
        1,
        14400,
    )
    assert (
        len(sent["textcard"]["title"].encode()) <= 128
        and len(sent["textcard"]["description"].encode()) <= 512
    )
    assert b"\\u" not in call.body  # WeCom refuses \uXXXX escapes (40033)


async def test_a_wecom_message_without_a_link_is_text(wx: WeChatServer, client: httpx.AsyncClient) -> None:
    channel = wecom(wx, client)
    msg = message("cleared", link=False)
    assert (await channel.send(delivery("wecom-app", "wecom-app://LiNa", msg), msg)).ok
    (shown,) = wx.shown_to("LiNa")
    assert shown.kind == "text" and shown.content["content"].startswith("P1 已解除：燃气泄漏")  # noqa: RUF001


async def test_a_member_outside_the_apps_visible_range_is_refused(
    wx: WeChatServer, client: httpx.AsyncClient
) -> None:
    channel = wecom(wx, client)
    msg = message()
    outside = await channel.send(delivery("wecom-app", "wecom-app://wangfang", msg), msg)
    assert outside.refused and not outside.retry and "81013" in outside.error
    # errcode 0 with the member in invaliduser (as when several recipients are named): refused all the same
    wx.script[APP_SEND] = [
        Fault(answer={"errcode": 0, "errmsg": "ok", "invaliduser": "zhangwei", "msgid": "m"})
    ]
    listed = await channel.send(delivery("wecom-app", "wecom-app://ZhangWei", msg), msg)
    assert listed.refused and "invaliduser" in listed.error
    assert wx.shown == []


async def test_a_wecom_retry_after_a_timeout_is_not_shown_twice(wx: WeChatServer) -> None:
    async with httpx.AsyncClient(timeout=0.5, trust_env=False) as client:
        channel = wecom(wx, client)
        wx.script[APP_SEND] = [Fault(after=True, delay=1.0)]  # on the phone, the answer lost
        msg = message()
        d = delivery("wecom-app", "wecom-app://zhangwei", msg)
        first = await channel.send(d, msg)
        assert first.ambiguous and first.retry and not first.ok
        second = await channel.send(d, msg)
        assert second.ok
        other = message("escalated", ts=TS + 60)
        assert (await channel.send(delivery("wecom-app", "wecom-app://zhangwei", other, "k-2"), other)).ok
    first_call, second_call, _ = wx.sends(APP_SEND)
    assert first_call.body == second_call.body  # the same JSON: WeCom's duplicate check holds it back
    assert second_call.answer["msgid"] == first_call.answer["msgid"]
    assert [s.content["title"] for s in wx.shown_to("zhangwei")] == [msg.title_zh, other.title_zh]


async def test_wecom_token_refresh_rate_limits_and_bad_secret(
    wx: WeChatServer, client: httpx.AsyncClient
) -> None:
    channel = wecom(wx, client)
    msg = message()
    target = "wecom-app://zhangwei"
    assert (await channel.send(delivery("wecom-app", target, msg), msg)).ok
    wx.revoke(CORPID)  # 40014 for the old token
    later = message(ts=TS + 1)
    assert (await channel.send(delivery("wecom-app", target, later, "k-2"), later)).ok
    assert [c.path for c in wx.token_requests()] == ["/cgi-bin/gettoken"] * 2
    wx.script[APP_SEND] = [Fault(errcode=45033, errmsg="api concurrent out of limit")]
    busy = await channel.send(delivery("wecom-app", target, msg, "k-3"), msg)
    assert busy.retry and not busy.refused
    wrong = wecom(wx, client, corpsecret="not-the-secret")
    refused = await asyncio.gather(*(wrong.send(delivery("wecom-app", target, msg), msg) for _ in range(10)))
    assert all(o.refused for o in refused) and "secret is wrong" in refused[0].error
    assert len(wx.token_requests()) == 3


# -- receipts --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("safe_mode", [False, True])
async def test_the_accounts_push_becomes_a_receipt_for_our_delivery(
    wx: WeChatServer, client: httpx.AsyncClient, safe_mode: bool
) -> None:
    aes = AES_KEY if safe_mode else None
    channel = oa(wx, client, encoding_aes_key=aes)
    assert channel.confirms_receipt
    with CallbackSink(channel.receipts) as sink:
        wx.event_url, wx.callback_token, wx.encoding_aes_key = sink.url, SERVER_TOKEN, aes
        wx.event_delay = 0.2  # the job finishes after the send was answered
        acc = wx.accounts[APPID]
        acc.muted.add(FOLLOWERS[1])  # turned off the account's messages: accepted, never shown
        msg = message()
        d0 = delivery("wechat", f"wechat://{FOLLOWERS[0]}", msg, "k-0")
        d1 = delivery("wechat", f"wechat://{FOLLOWERS[1]}", msg, "k-1")
        assert (await channel.send(d0, msg)).ok and (await channel.send(d1, msg)).ok
        await until(lambda: len(wx.pushed) == 2)
    assert sink.refused == []
    receipts = {r.ref: r for batch in sink.results for r in batch}
    assert receipts[delivery_ref("k-0")].state == "delivered"
    blocked = receipts[delivery_ref("k-1")]
    assert blocked.state == "failed" and "turned off" in blocked.detail
    assert [status for status, _ in wx.pushed] == [200, 200]


async def test_a_push_faster_than_the_sends_answer_is_kept_for_poll(
    wx: WeChatServer, client: httpx.AsyncClient
) -> None:
    channel = oa(wx, client)
    msgid = wx._msgid + 1  # the msgid the next send will be given
    xml = event_xml({"ToUserName": "gh_0123456789ab", "FromUserName": FOLLOWERS[0], "CreateTime": 1714547470,
                     "MsgType": "event", "Event": "TEMPLATESENDJOBFINISH", "MsgID": msgid, "Status": "success"})  # fmt: skip
    body, query = signed_push(xml, SERVER_TOKEN)
    assert channel.receipts(body, {"x-query": query}) == []  # not ours yet
    msg = message()
    d = delivery("wechat", f"wechat://{FOLLOWERS[0]}", msg, "k-0")
    assert (await channel.send(d, msg)).ok
    (receipt,) = await channel.poll([d])
    assert (receipt.ref, receipt.state) == (delivery_ref("k-0"), "delivered")
    assert await channel.poll([d]) == []


async def test_a_push_not_signed_by_the_accounts_token_is_refused(
    wx: WeChatServer, client: httpx.AsyncClient
) -> None:
    channel = oa(wx, client)
    msg = message()
    assert (await channel.send(delivery("wechat", f"wechat://{FOLLOWERS[0]}", msg, "k-0"), msg)).ok
    msgid = wx.sends(SEND)[0].answer["msgid"]
    fields: dict[str, str | int] = {
        "ToUserName": "gh_0123456789ab", "FromUserName": FOLLOWERS[0], "CreateTime": 1714547470,
        "MsgType": "event", "Event": "TEMPLATESENDJOBFINISH", "MsgID": msgid, "Status": "success",
    }  # fmt: skip
    xml = event_xml(fields)
    body, query = signed_push(xml, SERVER_TOKEN)
    (receipt,) = channel.receipts(body, {"x-query": query})
    assert (receipt.ref, receipt.state, receipt.at) == (delivery_ref("k-0"), "delivered", 1714547470.0)
    assert channel.receipts(body, {"x-query": query}) == []  # the same push again: read already
    forged, forged_query = signed_push(xml, "not-the-token")
    with pytest.raises(ValueError, match="signature"):
        channel.receipts(forged, {"x-query": forged_query})
    with pytest.raises(ValueError, match="signature"):
        channel.receipts(body, {})
    stale, stale_query = signed_push(xml, SERVER_TOKEN, timestamp="1714547470")
    with pytest.raises(ValueError, match="off"):
        channel.receipts(stale, {"x-query": stale_query})
    with CallbackSink(channel.receipts) as sink:  # over HTTP, as the gateway's endpoint passes it on
        status, _ = await asyncio.to_thread(post, f"{sink.url}?{forged_query}", forged)
    assert status == 403 and sink.refused and sink.results == []


async def test_safe_mode_checks_the_encrypted_body(wx: WeChatServer, client: httpx.AsyncClient) -> None:
    channel = oa(wx, client, encoding_aes_key=AES_KEY)
    xml = event_xml({"ToUserName": "gh_0123456789ab", "FromUserName": FOLLOWERS[0], "CreateTime": 1,
                     "MsgType": "event", "Event": "TEMPLATESENDJOBFINISH", "MsgID": 1, "Status": "success"})  # fmt: skip
    body, query = signed_push(xml, SERVER_TOKEN, encoding_aes_key=AES_KEY, appid=APPID)
    assert channel.receipts(body, {"x-query": query}) == []  # a valid push for a message it did not send
    plain, plain_query = signed_push(xml, SERVER_TOKEN)
    with pytest.raises(ValueError, match="safe mode"):
        channel.receipts(plain, {"x-query": plain_query})  # plain text where the account encrypts
    other_app, other_query = signed_push(
        xml, SERVER_TOKEN, encoding_aes_key=AES_KEY, appid="wx9999999999999999"
    )
    with pytest.raises(ValueError, match="another appid"):
        channel.receipts(other_app, {"x-query": other_query})
    fresh, fresh_query = signed_push(xml, SERVER_TOKEN, encoding_aes_key=AES_KEY, appid=APPID)
    tampered = fresh.replace(b"<Encrypt><![CDATA[", b"<Encrypt><![CDATA[AAAA")
    with pytest.raises(ValueError, match="msg_signature"):
        channel.receipts(tampered, {"x-query": fresh_query})  # the query's signature holds, the body's not


async def test_the_console_check_of_the_server_url(wx: WeChatServer, client: httpx.AsyncClient) -> None:
    channel = oa(wx, client)
    _, query = signed_push(b"", SERVER_TOKEN)
    assert channel.verify_url(f"{query}&echostr=4917305528") == "4917305528"
    with pytest.raises(ValueError, match="signature"):
        channel.verify_url(query.replace("signature=", "signature=0") + "&echostr=1")
