"""Aliyun SMS and voice calls against a local Aliyun that checks signatures and keeps what it took: an SMS
goes out once even when its answer is lost, the daily cap holds P3/P4 and never P1, a lost call answer never
rings the phone twice, and status and call reports become receipts."""

from __future__ import annotations

import json
import time
import typing
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from pydantic import ValidationError

from alerts.rule import Audience, Severity
from alerts.signals import Transition, Where
from gateway.config.providers import AliyunSettings, Fill
from gateway.errors import ConfigError
from gateway.notify.channels.aliyun import (
    china_day,
    fill,
    next_china_midnight,
    percent_encode,
    sign,
    signed_query,
    string_to_sign,
)
from gateway.notify.channels.aliyun_sms import AliyunSmsChannel
from gateway.notify.channels.aliyun_voice import AliyunVoiceChannel
from gateway.notify.channels.base import Outcome, Receipt, delivery_ref
from gateway.notify.messages import Message, render
from gateway.notify.outbox import Delivery
from tests.gateway.notify.aliyun_receiver import (
    AliyunReceiver,
    Fault,
    ReportSink,
    expected_signature,
    pop_encode,
)

KEY_ID = "LTAI5tGasGuardianTest"
SECRET = "0f-the-gateway-and-nobody-else"
PHONE = "13800000000"
ACK = "https://guardian.example.cn/ack/eyJwIjoiYWNrIiwiciI6InQxL3AtMSIsImEiOiJ0MTpDTy0xIn0.c2lnbmF0dXJlLW9mLXRoZS1saW5r"


@pytest.fixture
def aliyun() -> Iterator[AliyunReceiver]:
    with AliyunReceiver({KEY_ID: SECRET}, show_numbers=("057100000000",)) as rx:
        yield rx


def settings(rx: AliyunReceiver, **overrides: Any) -> AliyunSettings:
    values: dict[str, Any] = {
        "access_key_id": KEY_ID,
        "access_key_secret": SECRET,
        "sms_endpoint": rx.sms_url,
        "voice_endpoint": rx.voice_url,
        "sign_name": "燃气卫士",
        "sms_templates": "SMS_470001",
        "voice_tts_template": "TTS_470002",
    }
    values.update(overrides)
    return AliyunSettings(**values)


def message(severity: Severity = Severity.P1, household: str = "b3-u2-501", kind: str = "raised") -> Message:
    t = Transition(
        ts=time.time(),
        alarm_id=f"t1:CO-1:s-0:{time.time_ns()}",
        rule="CO-1",
        severity=severity,
        transition=kind,  # type: ignore[arg-type]
        where=Where("t1", "b3", "b3-u2", household),
        subject="s-0",
        notify=(Audience.RESIDENTS,),
    )
    return msgspec.structs.replace(render(t), ack_url=ACK)


def delivery(key: str, target: str, severity: str = "P1", msg: Message | None = None) -> Delivery:
    now = time.time()
    return Delivery(
        key=key,
        alarm_id="t1:CO-1:s-0:1",
        kind="alert",
        transition="raised",
        ts=now,
        site="t1",
        building="b3",
        rule="CO-1",
        severity=severity,
        recipient="p-1",
        audience="residents",
        channel=target.split("://", maxsplit=1)[0],
        target=target,
        rank=0,
        state="queued",
        next_at=now,
        queued_at=now,
        message=msg or message(Severity[severity]),
    )


async def attempt(channel: AliyunSmsChannel | AliyunVoiceChannel, d: Delivery) -> Outcome:
    """One attempt as the sender makes it: the count goes up first, a failure's error is kept on the row."""
    d.attempts += 1
    outcome = await channel.send(d, d.message)
    if not outcome.ok:
        d.error = outcome.error[:300]
    return outcome


def client(timeout: float = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout))


# -- the signature ----------------------------------------------------------------------------------------
def test_the_signer_reproduces_aliyuns_documented_examples() -> None:
    # The RPC signature documentation's example (ECS DescribeRegions, AccessKeySecret "testsecret").
    describe = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert string_to_sign(describe, "GET") == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1"
        "%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0"
        "%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
    )
    assert sign(describe, "testsecret", "GET") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    # The SMS documentation's example: Chinese in SignName, JSON in TemplateParam.
    send = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert sign(send, "testSecret", "GET") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    # and the receiver's independent implementation agrees with both
    assert expected_signature("GET", describe, "testsecret")[0] == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert expected_signature("GET", send, "testSecret")[0] == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_percent_encoding_is_rfc3986_not_form_encoding() -> None:
    for text in ("a b", "*", "~-_.", "/=&+", "燃气", "a'b(c)!"):
        assert percent_encode(text) == pop_encode(text)
    assert percent_encode("a b*~") == "a%20b%2A~"


async def test_the_local_aliyun_takes_our_signature_and_refuses_a_tampered_one(
    aliyun: AliyunReceiver,
) -> None:
    s = settings(aliyun)
    params = {"PhoneNumber": PHONE, "SendDate": china_day(time.time()), "PageSize": 10, "CurrentPage": 1}
    async with client() as http:
        good = signed_query("QuerySendDetails", "2017-05-25", params, s, time.time(), "nonce-1")
        res = await http.post(aliyun.sms_url, data=good)
        assert res.status_code == 200 and res.json()["Code"] == "OK", res.text

        res = await http.post(aliyun.sms_url, data=good)  # the same request again: a replay
        assert res.status_code == 400 and res.json()["Code"] == "SignatureNonceUsed"

        tampered = {**signed_query("QuerySendDetails", "2017-05-25", params, s, time.time(), "nonce-2")}
        tampered["PhoneNumber"] = "13900000000"
        res = await http.post(aliyun.sms_url, data=tampered)
        assert res.status_code == 400 and res.json()["Code"] == "SignatureDoesNotMatch"

        wrong = settings(aliyun, access_key_secret="not-the-secret")
        res = await http.post(
            aliyun.sms_url,
            data=signed_query("QuerySendDetails", "2017-05-25", params, wrong, time.time(), "n3"),
        )
        assert res.status_code == 400 and res.json()["Code"] == "SignatureDoesNotMatch"

        stale = signed_query("QuerySendDetails", "2017-05-25", params, s, time.time() - 16 * 60, "nonce-4")
        res = await http.post(aliyun.sms_url, data=stale)
        assert res.status_code == 400 and res.json()["Code"] == "InvalidTimeStamp.Expired"

        unknown = settings(aliyun, access_key_id="LTAIunknown")
        res = await http.post(
            aliyun.sms_url,
            data=signed_query("QuerySendDetails", "2017-05-25", params, unknown, time.time(), "n5"),
        )
        assert res.status_code == 404 and res.json()["Code"] == "InvalidAccessKeyId.NotFound"

        # GET with the parameters in the query string, signed with GET
        query = signed_query(
            "QuerySendDetails", "2017-05-25", params, s, time.time(), "nonce-6", method="GET"
        )
        res = await http.get(aliyun.sms_url, params=query)
        assert res.status_code == 200 and res.json()["Code"] == "OK", res.text


async def test_a_wrong_secret_is_a_refusal_that_leaks_nothing(aliyun: AliyunReceiver) -> None:
    async with client() as http:
        sms = AliyunSmsChannel(http, settings(aliyun, access_key_secret="rotated-away"))
        outcome = await attempt(sms, delivery("k-secret", f"aliyun-sms://+86{PHONE}"))
    assert not outcome.ok and outcome.refused and not outcome.retry and not outcome.gone
    assert "SignatureDoesNotMatch" in outcome.error
    assert PHONE not in outcome.error and KEY_ID not in outcome.error  # the quoted string to sign is cut
    assert aliyun.sms == []


async def test_an_unknown_access_key_is_refused_not_taken_for_a_gone_number(aliyun: AliyunReceiver) -> None:
    async with client() as http:
        sms = AliyunSmsChannel(http, settings(aliyun, access_key_id="LTAIdeleted"))
        outcome = await attempt(sms, delivery("k-key", f"aliyun-sms://+86{PHONE}"))
    assert outcome.refused and not outcome.gone and outcome.status == 404


# -- SMS --------------------------------------------------------------------------------------------------
async def test_an_sms_goes_out_with_our_out_id_and_the_template_variables(aliyun: AliyunReceiver) -> None:
    long_home = "b3-u2-501 the flat at the far end of the corridor, third door on the left"
    d = delivery("k-1", f"aliyun-sms://+86{PHONE}", msg=message(household=long_home, kind="escalated"))
    async with client() as http:
        sms = AliyunSmsChannel(http, settings(aliyun))
        outcome = await attempt(sms, d)
    assert outcome.ok, outcome.error
    [sent] = aliyun.sms
    assert sent.phone == PHONE and sent.sign_name == "燃气卫士" and sent.template_code == "SMS_470001"
    assert sent.out_id == delivery_ref("k-1")
    assert sent.params["place"] == long_home[:35]  # Aliyun takes 35 characters a variable
    assert sent.params["what"] == "无人响应：一氧化碳报警"  # noqa: RUF001
    assert sent.params["link"] == "https://guardian.example.cn"  # the token does not fit: never cut
    assert all(len(v) <= 35 for v in sent.params.values())
    assert sms.accepted[sent.out_id].biz_id == sent.biz_id


async def test_a_timeout_after_aliyun_took_the_sms_does_not_send_it_again(aliyun: AliyunReceiver) -> None:
    aliyun.fault("SendSms", Fault(delay=1.5))  # kept, then the answer is too late
    d = delivery("k-lost", f"aliyun-sms://+86{PHONE}")
    async with client(timeout=0.4) as http:
        sms = AliyunSmsChannel(http, settings(aliyun))
        first = await attempt(sms, d)
        assert not first.ok and first.ambiguous and first.retry
        assert len(aliyun.sms) == 1  # it did go out
        second = await attempt(sms, d)
    assert second.ok, second.error
    assert len(aliyun.sms) == 1
    assert len(aliyun.requests("SendSms")) == 1
    assert aliyun.requests("QuerySendDetails", "OK")


async def test_after_a_restart_the_lost_answer_is_still_looked_up_first(aliyun: AliyunReceiver) -> None:
    aliyun.fault("SendSms", Fault(delay=1.5))
    d = delivery("k-restart", f"aliyun-sms://+86{PHONE}")
    async with client(timeout=0.4) as http:
        first = await attempt(AliyunSmsChannel(http, settings(aliyun)), d)
        assert first.ambiguous
        # a new process: the channel remembers nothing, the outbox row has the attempt count and error
        second = await attempt(AliyunSmsChannel(http, settings(aliyun)), d)
    assert second.ok, second.error
    assert len(aliyun.sms) == 1 and len(aliyun.requests("SendSms")) == 1


async def test_a_request_that_never_reached_aliyun_is_sent_after_looking(aliyun: AliyunReceiver) -> None:
    aliyun.fault("SendSms", Fault(delay=1.5, carry_out=False))  # lost before Aliyun acted on it
    d = delivery("k-dropped", f"aliyun-sms://+86{PHONE}")
    async with client(timeout=0.4) as http:
        sms = AliyunSmsChannel(http, settings(aliyun))
        assert (await attempt(sms, d)).ambiguous
        assert aliyun.sms == []
        second = await attempt(sms, d)
    assert second.ok, second.error
    assert [s.out_id for s in aliyun.sms] == [delivery_ref("k-dropped")]


async def test_a_definite_refusal_is_retried_without_looking(aliyun: AliyunReceiver) -> None:
    aliyun.fault(
        "SendSms",
        Fault(
            code="Throttling.User",
            message="Request was denied due to user flow control.",
            status=400,
            carry_out=False,
        ),
    )
    d = delivery("k-throttled", f"aliyun-sms://+86{PHONE}")
    async with client() as http:
        sms = AliyunSmsChannel(http, settings(aliyun))
        first = await attempt(sms, d)
        assert first.retry and not first.refused and first.retry_after
        second = await attempt(sms, d)
    assert second.ok
    assert len(aliyun.sms) == 1 and aliyun.requests("QuerySendDetails") == []


async def test_the_daily_cap_holds_p4_until_midnight_and_never_p1(aliyun: AliyunReceiver) -> None:
    target = f"aliyun-sms://+86{PHONE}"
    async with client() as http:
        sms = AliyunSmsChannel(http, settings(aliyun, daily_cap_per_number=2))
        for n in range(2):
            assert (await attempt(sms, delivery(f"k-p4-{n}", target, "P4"))).ok
        held = await attempt(sms, delivery("k-p4-held", target, "P4"))
        now = time.time()
        assert not held.ok and not held.refused and not held.gone
        assert held.hold_until is not None and not held.retry and held.retry_after is None  # no circuit opens
        assert abs(held.hold_until - next_china_midnight(now)) < 5
        assert "daily cap" in held.error and PHONE not in held.error and "138****0000" in held.error
        assert len(aliyun.sms) == 2

        urgent = await attempt(sms, delivery("k-p1", target, "P1"))
        assert urgent.ok
        assert len(aliyun.sms) == 3
        assert sms.over_cap == [(PHONE, china_day(now))] and sms.over_cap_sends == 1

        # a restart does not reset the count: it starts from what Aliyun holds for the number today
        fresh = AliyunSmsChannel(http, settings(aliyun, daily_cap_per_number=2))
        again = await attempt(fresh, delivery("k-p3-after-restart", target, "P3"))
        assert not again.ok and "daily cap" in again.error
    assert len(aliyun.sms) == 3


async def test_aliyuns_own_limits_are_retried_later_not_refused(aliyun: AliyunReceiver) -> None:
    aliyun.day_limit = 1
    target = f"aliyun-sms://+86{PHONE}"
    async with client() as http:
        sms = AliyunSmsChannel(http, settings(aliyun))
        assert (await attempt(sms, delivery("k-a", target))).ok
        limited = await attempt(sms, delivery("k-b", target))
        assert not limited.ok and limited.retry and not limited.refused
        assert "isv.BUSINESS_LIMIT_CONTROL" in limited.error
        assert limited.retry_after is not None and limited.retry_after > 60  # a day's flow control: midnight

        aliyun.day_limit = 50
        aliyun.fault(
            "SendSms",
            Fault(code="isv.BUSINESS_LIMIT_CONTROL", message="触发分钟级流控Permits:1", carry_out=False),
        )
        minute = await attempt(sms, delivery("k-c", target))
        assert minute.retry and not minute.refused and minute.retry_after == 60.0

        aliyun.account_day_limit = 1
        account = await attempt(sms, delivery("k-d", target))
        assert account.retry and not account.refused and "isv.DAY_LIMIT_CONTROL" in account.error


async def test_a_bad_number_is_refused_for_someone_to_fix(aliyun: AliyunReceiver) -> None:
    async with client() as http:
        sms = AliyunSmsChannel(http, settings(aliyun))
        outcome = await attempt(sms, delivery("k-bad", "aliyun-sms://+8612345678901"))
    assert not outcome.ok and outcome.refused and not outcome.retry
    assert "isv.MOBILE_NUMBER_ILLEGAL" in outcome.error
    assert aliyun.sms == []


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"sign_name": "未报备的签名"}, "isv.SMS_SIGNATURE_ILLEGAL"),
        ({"sms_templates": "SMS_000000"}, "isv.SMS_TEMPLATE_ILLEGAL"),
        (
            {"sms_templates": {"*": {"code": "SMS_470001", "params": {"place": "place"}}}},
            "isv.TEMPLATE_MISSING_PARAMETERS",
        ),
    ],
)
async def test_signature_and_template_faults_are_refusals(
    aliyun: AliyunReceiver, overrides: dict[str, Any], code: str
) -> None:
    async with client() as http:
        sms = AliyunSmsChannel(http, settings(aliyun, **overrides))
        outcome = await attempt(sms, delivery(f"k-{code}", f"aliyun-sms://+86{PHONE}"))
    assert outcome.refused and not outcome.retry and code in outcome.error


async def test_status_reports_pushed_by_aliyun_become_receipts(aliyun: AliyunReceiver) -> None:
    target = f"aliyun-sms://+86{PHONE}"
    async with client() as http:
        sms = AliyunSmsChannel(http, settings(aliyun))
        for key in ("k-ok", "k-fail"):
            assert (await attempt(sms, delivery(key, target))).ok
    ok, fail = delivery_ref("k-ok"), delivery_ref("k-fail")
    records = [aliyun.deliver(ok), aliyun.deliver(fail, success=False, err_code="MK:0001")]
    records.append({**records[0], "out_id": "order-778"})  # someone else's SMS on the same account
    with ReportSink() as sink:
        status, answer = aliyun.push(sink.url("/notify/receipts/aliyun-sms"), records)
        assert status == 200 and answer["code"] == 0
        [pushed] = sink.pushed
    receipts = sms.receipts(pushed.body, pushed.headers)
    by_ref = {s.out_id: s for s in aliyun.sms}
    assert receipts == [
        Receipt(ok, "delivered", by_ref[ok].received_at or 0.0, "DELIVERED"),
        Receipt(fail, "failed", by_ref[fail].received_at or 0.0, "MK:0001"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"phone_number": "13800000000"}',
        b"[1, 2]",
        json.dumps([{"out_id": "a" * 32, "report_time": "2024-01-01 00:00:00"}]).encode(),
        json.dumps([{"out_id": "a" * 32, "success": "true", "report_time": "2024-01-01 00:00:00"}]).encode(),
        json.dumps([{"out_id": "a" * 32, "success": True, "report_time": "yesterday"}]).encode(),
    ],
)
async def test_a_malformed_status_report_is_refused(aliyun: AliyunReceiver, body: bytes) -> None:
    async with client() as http:
        sms = AliyunSmsChannel(http, settings(aliyun))
        with pytest.raises(ValueError):
            sms.receipts(body, {})


async def test_poll_asks_query_send_details_for_reports_that_did_not_come(aliyun: AliyunReceiver) -> None:
    target = f"aliyun-sms://+86{PHONE}"
    async with client() as http:
        sms = AliyunSmsChannel(http, settings(aliyun))
        done, waiting = delivery("k-done", target), delivery("k-waiting", target)
        for d in (done, waiting):
            assert (await attempt(sms, d)).ok
            d.sent_at = time.time()
        aliyun.deliver(delivery_ref("k-done"), success=False, err_code="IC:0015")
        receipts = await sms.poll([done, waiting])
    [receipt] = receipts
    assert receipt.ref == delivery_ref("k-done") and receipt.state == "failed" and receipt.detail == "IC:0015"


# -- voice ------------------------------------------------------------------------------------------------
async def test_a_call_goes_out_with_our_out_id(aliyun: AliyunReceiver) -> None:
    async with client() as http:
        voice = AliyunVoiceChannel(http, settings(aliyun, called_show_number="057100000000"))
        outcome = await attempt(voice, delivery("k-call", f"aliyun-voice://+86{PHONE}"))
    assert outcome.ok, outcome.error
    [call] = aliyun.calls
    assert call.called == PHONE and call.out_id == delivery_ref("k-call") and call.play_times == 3
    assert call.tts_code == "TTS_470002" and call.show_number == "057100000000"
    assert call.params == {"place": "b3-u2-501", "what": "一氧化碳报警"}
    assert voice.calls[call.out_id][0] == call.call_id


async def test_a_lost_call_answer_never_rings_the_phone_twice(aliyun: AliyunReceiver) -> None:
    """No lookup by OutId exists: the channel waits for the call report a call that rang sends, and only a
    report that never comes (the request never became a call) lets it call again: a P1 must ring."""
    aliyun.fault("SingleCallByTts", Fault(delay=1.5))  # placed, then the answer is too late
    d = delivery("k-ring", f"aliyun-voice://+86{PHONE}")
    clock = [time.time()]
    async with client(timeout=0.4) as http:
        first = await attempt(AliyunVoiceChannel(http, settings(aliyun)), d)
        assert first.ambiguous and len(aliyun.calls) == 1
        later = AliyunVoiceChannel(http, settings(aliyun), clock=lambda: clock[0])  # even after a restart
        second = await attempt(later, d)
        assert not second.ok and second.hold_until is not None and not second.retry  # waits, no circuit
        assert len(aliyun.calls) == 1 and len(aliyun.requests("SingleCallByTts")) == 1
        clock[0] = second.hold_until + 1  # no call report came in all that time
        aliyun.fault("SingleCallByTts", Fault())
        third = await attempt(later, d)
    assert len(aliyun.requests("SingleCallByTts")) == 2, third  # called again (Aliyun may rate-limit it)


async def test_a_refused_call_is_placed_on_the_next_attempt(aliyun: AliyunReceiver) -> None:
    aliyun.fault(
        "SingleCallByTts",
        Fault(code="isv.BUSINESS_LIMIT_CONTROL", message="触发分钟级流控Permits:1", carry_out=False),
    )
    d = delivery("k-again", f"aliyun-voice://+86{PHONE}")
    async with client() as http:
        voice = AliyunVoiceChannel(http, settings(aliyun))
        first = await attempt(voice, d)
        assert first.retry and not first.refused and first.retry_after == 60.0
        assert (await attempt(voice, d)).ok
    assert len(aliyun.calls) == 1 and len(aliyun.requests("SingleCallByTts")) == 2


async def test_a_bad_number_or_template_refuses_the_call(aliyun: AliyunReceiver) -> None:
    async with client() as http:
        bad_number = await attempt(
            AliyunVoiceChannel(http, settings(aliyun)), delivery("k-v1", "aliyun-voice://12345")
        )
        bad_template = await attempt(
            AliyunVoiceChannel(http, settings(aliyun, voice_tts_template="TTS_0")),
            delivery("k-v2", f"aliyun-voice://+86{PHONE}"),
        )
        bad_show = await attempt(
            AliyunVoiceChannel(http, settings(aliyun, called_show_number="01000000000")),
            delivery("k-v3", f"aliyun-voice://+86{PHONE}"),
        )
    assert bad_number.refused and "isv.MOBILE_NUMBER_ILLEGAL" in bad_number.error
    assert bad_template.refused and "isv.TTS_TEMPLATE_ILLEGAL" in bad_template.error
    assert bad_show.refused and "isv.DISPLAY_NUMBER_ILLEGAL" in bad_show.error
    assert aliyun.calls == []


async def test_call_reports_say_answered_or_not(aliyun: AliyunReceiver) -> None:
    numbers = {
        "k-heard": "13800000001",
        "k-no-answer": "13800000002",
        "k-busy": "13800000003",
        "k-off": "13800000004",
    }
    async with client() as http:
        voice = AliyunVoiceChannel(http, settings(aliyun))
        for key, number in numbers.items():
            assert (await attempt(voice, delivery(key, f"aliyun-voice://+86{number}"))).ok
    codes = {"k-heard": "200000", "k-no-answer": "200003", "k-busy": "200002", "k-off": "200010"}
    records = [aliyun.end_call(delivery_ref(k), code) for k, code in codes.items()]
    with ReportSink() as sink:
        status, _ = aliyun.push(sink.url("/notify/receipts/aliyun-voice"), records)
        [pushed] = sink.pushed
    assert status == 200
    receipts = {r.ref: r for r in voice.receipts(pushed.body, pushed.headers)}
    ended = {c.out_id: c.ended_at for c in aliyun.calls}
    assert {k: receipts[delivery_ref(k)].state for k in codes} == {
        "k-heard": "answered",
        "k-no-answer": "unanswered",
        "k-busy": "unanswered",
        "k-off": "unanswered",
    }
    for key, code in codes.items():
        r = receipts[delivery_ref(key)]
        assert r.detail.startswith(code) and r.at == ended[r.ref]
    with pytest.raises(ValueError):
        voice.receipts(b'{"status_code": "200000"}', {})
    with pytest.raises(ValueError):
        voice.receipts(json.dumps([{"out_id": "a" * 32}]).encode(), {})


# -- traits and settings -----------------------------------------------------------------------------------
async def test_addresses_and_traits(aliyun: AliyunReceiver) -> None:
    async with client() as http:
        sms = AliyunSmsChannel(http, settings(aliyun))
        voice = AliyunVoiceChannel(http, settings(aliyun))
    assert sms.claims("aliyun-sms://+8613800000000") and sms.claims("aliyun-sms://13800000000")
    assert not sms.claims("sms://+8613800000000") and not sms.claims("tel:+8613800000000")
    assert not sms.claims("aliyun-voice://+8613800000000") and not sms.claims("aliyun-sms://not-a-number")
    assert voice.claims("aliyun-voice://+8613800000000") and not voice.claims("aliyun-sms://+8613800000000")
    assert sms.circuit("aliyun-sms://+8613800000000") == sms.circuit("aliyun-sms://13800000000")
    assert (sms.follow_ups, sms.confirms_receipt, sms.pace) == (False, True, "recipient")
    assert (voice.follow_ups, voice.confirms_receipt, voice.pace) == (False, True, None)


async def test_settings_as_a_config_file_gives_them() -> None:
    load = AliyunSettings.model_validate
    base = {"access_key_id": "id", "access_key_secret": "very-secret"}
    s = load({**base, "sms_templates": "SMS_1", "voice_tts_template": "TTS_1"})
    one = s.sms_template("P1")
    assert one is not None and one.code == "SMS_1" and s.sms_template("P3") == one
    assert "very-secret" not in repr(s) and s.access_key_secret.get_secret_value() == "very-secret"
    assert (s.daily_cap_per_number, s.region, s.voice_play_times) == (40, "cn-hangzhou", 3)
    per = load({**base, "sms_templates": {"P1": "SMS_1", "*": {"code": "SMS_2", "params": {"p": "place"}}}})
    p1, p4 = per.sms_template("P1"), per.sms_template("P4")
    assert p1 is not None and p1.code == "SMS_1" and p4 is not None and p4.params == {"p": "place"}
    with pytest.raises(ValidationError):
        load({**base, "sms_templates": {"urgent": "SMS_1"}})
    with pytest.raises(ValidationError):
        load({**base, "voice_tts_params": {"link": "link"}})
    with pytest.raises(ValidationError):
        load({**base, "voice_play_times": 5})
    async with client() as http:
        with pytest.raises(ConfigError):
            AliyunSmsChannel(http, load(base))
        with pytest.raises(ConfigError):
            AliyunVoiceChannel(http, load(base))
    long = msgspec.structs.replace(message(Severity.P2), title_zh="P2 " + "燃" * 50 + " — b1")
    assert fill({"what": "what"}, long) == {"what": "燃" * 35}
    every = {name: name for name in typing.get_args(Fill)}
    filled = fill(every, long)  # every name the settings accept is answered
    assert (
        filled["site"] == "t1"
        and filled["severity"] == "P2"
        and filled["link"] == "https://guardian.example.cn"
    )
    with pytest.raises(ValidationError):
        load({**base, "voice_tts_params": {"room": "room_number"}})  # not a field: refused at load
