"""An SMS's acknowledgement link through the whole notifier and the local Aliyun: the signed link does not fit
a template variable, so the SMS carries a short link of at most 35 characters; followed, it reaches the ack
page for that alarm and person, which acknowledges only when pressed; unknown and expired codes look alike;
the route is rate-limited per client; a resent SMS carries the same code."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import event

from alerts.rule import Severity
from gateway.http.api.throttle import ClientRate
from gateway.notify.channels.aliyun import VARIABLE_CHARS
from gateway.notify.channels.aliyun_sms import AliyunSmsChannel
from gateway.notify.channels.base import delivery_ref
from gateway.notify.shortlinks import CODE_CHARS, ShortLinks
from gateway.store.db import Store, open_store, sqlite_url
from gateway.store.short_links import ShortLinkTable
from gateway.tokens import Signer
from tests.gateway.notify.aliyun_receiver import AliyunReceiver, Fault
from tests.gateway.notify.receivers import Receiver
from tests.gateway.notify.rig import registry, rig
from tests.gateway.notify.test_aliyun import KEY_ID, SECRET, attempt, delivery, message, settings
from tests.gateway.notify.test_delivery import co_exposure

PHONE = "13800000007"
SHORT = re.compile(r"^http://gateway/s/([0-9A-Za-z]{10})$")


@pytest.fixture
def aliyun() -> Iterator[AliyunReceiver]:
    with AliyunReceiver({KEY_ID: SECRET}) as rx:
        yield rx


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(sqlite_url(tmp_path / "guardian.sqlite3")) as s:
        yield s


def _settings(ali: AliyunReceiver) -> dict[str, Any]:
    return {
        "aliyun": {
            "access_key_id": KEY_ID,
            "access_key_secret": SECRET,
            "sms_endpoint": ali.sms_url,
            "sign_name": "燃气卫士",
            "sms_templates": "SMS_470001",
        },
        "webhooks": [],
        "poll_seconds": 3600.0,
    }


def _registry(rx: Receiver) -> dict[str, Any]:
    reg = registry(rx)
    household = reg["buildings"][0]["units"][0]["households"][0]
    household["residents"] = [{"id": "p-1", "notify": [f"aliyun-sms://+86{PHONE}"]}]
    household["contacts"] = []
    return reg


async def test_the_sms_carries_a_short_link_that_reaches_the_ack_page_and_acknowledges(
    tmp_path: Path, aliyun: AliyunReceiver, store: Store
) -> None:
    with Receiver() as rx:
        async with rig(tmp_path, rx, _registry(rx), links=ShortLinkTable(store), **_settings(aliyun)) as r:
            co_exposure(r, minutes=3)
            raised = next(t for t in r.transitions if t.rule == "CO-1" and t.transition == "raised")
            await r.settle(lambda: len(aliyun.sms) == 1)
            [sms] = aliyun.sms
            link = sms.params["link"]
            assert len(link) <= VARIABLE_CHARS and SHORT.match(link), link
            assert link in sms.content  # what the phone shows
            d = next(d for d in r.notifier.live.values() if d.channel == "aliyun-sms")
            assert d.message.ack_url != link and len(d.message.ack_url) > VARIABLE_CHARS
            async with r.http() as http:
                # a link scanner or a chat preview follows the link with GETs: it sees the page, no more
                page = await http.get(link, follow_redirects=True)
                assert page.status_code == 200 and "<form" in page.text
                assert raised.alarm_id in page.text
                assert [str(h.url) for h in page.history] == [link]
                assert page.history[0].status_code == 302
                assert page.history[0].headers["location"] == d.message.ack_url
                again = await http.get(link, follow_redirects=True)
                assert again.status_code == 200
                assert not any(t.transition == "acknowledged" for t in r.transitions)
                # the person presses the button: the page posts to itself
                pressed = await http.post(str(page.url))
                assert pressed.status_code == 200 and "已确认" in pressed.text
            ack = next(t for t in r.transitions if t.transition == "acknowledged")
            assert ack.alarm_id == raised.alarm_id and ack.by == "p-1"


async def test_unknown_and_expired_codes_answer_alike_and_the_route_is_rate_limited(
    tmp_path: Path, store: Store
) -> None:
    table = ShortLinkTable(store)
    now = time.time()
    await table.claim("Expired000", "ref-expired", "http://gateway/ack/old", now - 1)
    await table.claim("Current000", "ref-current", "http://gateway/ack/new", now + 3600)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", seen)
    with Receiver() as rx:
        async with rig(tmp_path, rx, links=table) as r, r.http() as http:
            good = await http.get("/s/Current000")
            assert good.status_code == 302 and good.headers["location"] == "http://gateway/ack/new"
            answers = {}
            for code in ("Expired000", "Unknown000"):
                statements.clear()
                res = await http.get(f"/s/{code}")
                answers[code] = (res.status_code, res.text, sorted(res.headers.items()), list(statements))
            assert answers["Expired000"] == answers["Unknown000"]
            assert answers["Unknown000"][0] == 404 and len(answers["Unknown000"][3]) == 1
            assert "Expired000" not in answers["Expired000"][1]
    event.remove(store.engine.sync_engine, "before_cursor_execute", seen)

    rate = ClientRate(per_minute=3)
    assert [rate.wait("10.0.0.1", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rate.wait("10.0.0.1", 101.0) == pytest.approx(59.0)
    assert rate.wait("10.0.0.2", 101.0) == 0.0  # another client is not held
    assert rate.wait("10.0.0.1", 160.5) == 0.0  # the oldest aged out
    with Receiver() as rx:
        async with rig(tmp_path, rx, links=table) as r, r.http() as http:
            answers = [await http.get("/s/Unknown000") for _ in range(61)]
    assert [a.status_code for a in answers] == [404] * 60 + [429]
    assert int(answers[-1].headers["retry-after"]) >= 1


async def test_a_resent_sms_carries_the_same_code_even_after_a_restart(
    aliyun: AliyunReceiver, store: Store
) -> None:
    signer = Signer(b"a-link-secret-for-the-test")
    now = time.time()
    token = signer.sign("ack", "p-1", alarm_id="t1:CO-1:s-0:1", expires=now + 72 * 3600)
    url = f"https://guardian.example.cn/ack/{token}"
    msg = msgspec.structs.replace(message(Severity.P1), ack_url=url)
    aliyun.fault("SendSms", Fault(delay=1.5, carry_out=False))  # the first attempt's answer is lost
    d = delivery("k-short", f"aliyun-sms://+86{PHONE}", msg=msg)
    statements: list[str] = []
    event.listen(store.engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.4)) as http:
        s = settings(aliyun, sms_templates="SMS_470001")
        links = ShortLinks(ShortLinkTable(store), signer, "https://g.example.cn", clock=time.time)
        first = await attempt(AliyunSmsChannel(http, s, links=links), d)
        assert first.ambiguous and aliyun.sms == []
        inserts = [q for q in statements if q.lstrip().upper().startswith("INSERT")]
        assert len(inserts) == 1  # one insert per short link, nothing else on the way
        # a new process: a new channel and a new ShortLinks, the same store
        links = ShortLinks(ShortLinkTable(store), signer, "https://g.example.cn", clock=time.time)
        aliyun.fault("SendSms", Fault())
        second = await attempt(AliyunSmsChannel(http, s, links=links), d)
    assert second.ok, second.error
    [sms] = aliyun.sms
    assert sms.out_id == delivery_ref("k-short")
    code = sms.params["link"].rsplit("/", 1)[-1]
    assert sms.params["link"] == f"https://g.example.cn/s/{code}" and len(code) == CODE_CHARS
    assert len(sms.params["link"]) <= VARIABLE_CHARS
    assert await links.target(code) == url
    found = await ShortLinkTable(store).target(code)
    assert found is not None and found[1] == signer.verify(token, "ack", now=now).expires


async def test_a_public_origin_too_long_for_a_short_link_falls_back_to_the_origin(store: Store) -> None:
    signer = Signer(b"a-link-secret-for-the-test")
    token = signer.sign("ack", "p-1", alarm_id="a", expires=time.time() + 60)
    origin = "https://guardian.a-long-district-name.example.cn"
    links = ShortLinks(ShortLinkTable(store), signer, origin, clock=time.time)
    assert await links.shorten("ref", f"{origin}/ack/{token}", VARIABLE_CHARS) is None
    assert await links.shorten("ref", "http://g/ack/x", VARIABLE_CHARS) == "http://g/ack/x"  # fits: itself
    short = ShortLinks(ShortLinkTable(store), signer, "http://g.cn", clock=time.time)
    assert await short.shorten("ref2", f"http://g.cn/ack/{token[:-2]}xx", VARIABLE_CHARS) is None  # not ours


async def test_a_storm_of_sms_shares_a_few_commits_and_every_code_is_its_own(store: Store) -> None:
    """200 SMS minting at once: each delivery gets its own code, the same delivery asked twice at once gets
    one code, and the inserts go in a handful of transactions instead of queueing for one each."""
    signer = Signer(b"a-link-secret-for-the-test")
    links = ShortLinks(ShortLinkTable(store), signer, "https://g.example.cn", clock=time.time)
    urls = {}
    for i in range(200):
        token = signer.sign("ack", f"p-{i}", alarm_id=f"t1:CO-1:s-{i}:1", expires=time.time() + 3600)
        urls[f"ref-{i}"] = f"https://guardian.example.cn/ack/{token}"
    statements: list[str] = []
    event.listen(store.engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    asks = [*urls.items(), ("ref-7", urls["ref-7"])]  # one delivery asked twice in the same storm
    got = await asyncio.gather(*(links.shorten(ref, url, VARIABLE_CHARS) for ref, url in asks))
    assert all(link is not None and len(link) <= VARIABLE_CHARS for link in got)
    assert got[7] == got[-1] and len(set(got)) == len(urls)
    for (ref, url), link in zip(asks, got, strict=True):
        assert link is not None and await links.target(link.rsplit("/", 1)[-1]) == url, ref
    inserts = [q for q in statements if q.lstrip().upper().startswith("INSERT")]
    assert len(inserts) < 40, f"{len(inserts)} insert statements for 200 short links"
