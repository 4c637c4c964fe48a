"""Receipts decide, not HTTP 200s: an SMS Aliyun accepted is only *sent* until the carrier's report says
delivered; a failed report or an unanswered call wakes the person's next channel; a receipt reaches the
gateway only at its secret address. Through the whole notifier, against the local Aliyun."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.rule import Severity
from gateway.config.registry_file import load_registries
from gateway.notify.channels.base import delivery_ref
from gateway.notify.directory import Directory
from tests.gateway.notify.aliyun_receiver import AliyunReceiver
from tests.gateway.notify.receivers import Receiver
from tests.gateway.notify.rig import registry, rig, transition

KEY_ID = "LTAI5tGasGuardianRig"
SECRET = "the-rig-s-own-aliyun-secret"
PHONE = "13800000001"


@pytest.fixture
def aliyun() -> Iterator[AliyunReceiver]:
    with AliyunReceiver({KEY_ID: SECRET}, show_numbers=("057100000000",)) as rx:
        yield rx


def _settings(ali: AliyunReceiver) -> dict[str, Any]:
    return {
        "aliyun": {
            "access_key_id": KEY_ID,
            "access_key_secret": SECRET,
            "sms_endpoint": ali.sms_url,
            "voice_endpoint": ali.voice_url,
            "sign_name": "燃气卫士",
            "sms_templates": "SMS_470001",
            "voice_tts_template": "TTS_470002",
        },
        "webhooks": [],
        "poll_seconds": 3600.0,
    }


def _write(tmp_path: Path, reg: dict[str, Any]) -> Path:
    path = tmp_path / "registry-2.yaml"
    path.write_text(yaml.safe_dump(reg))
    return path


def _registry(rx: Receiver, first: str) -> dict[str, Any]:
    reg = registry(rx)
    household = reg["buildings"][0]["units"][0]["households"][0]
    household["residents"] = [
        {"id": "p-1", "notify": [first, f"json://127.0.0.1:{rx.port}/apprise/p-1"]},
    ]
    household["contacts"] = []
    return reg


async def test_an_sms_is_delivered_only_when_the_carrier_says_so(
    tmp_path: Path, aliyun: AliyunReceiver
) -> None:
    with Receiver() as rx:
        reg = _registry(rx, f"aliyun-sms://+86{PHONE}")
        async with rig(tmp_path, rx, reg, **_settings(aliyun)) as r:
            t = transition("GAS-3", severity=Severity.P3, ts=time.time())  # P3: the apprise address waits
            r.notifier.offer(t)
            await r.settle(lambda: len(aliyun.sms) == 1)
            sms = next(d for d in r.notifier.live.values() if d.channel == "aliyun-sms")
            await r.settle(lambda: sms.state == "sent")
            assert aliyun.sms[0].out_id == delivery_ref(sms.key)
            paid = r.notifier.metrics.paid_sends.labels(site="t1", channel="aliyun-sms")
            assert paid._value.get() == 1  # SMS cost money: counted per site and channel
            report = aliyun.deliver(aliyun.sms[0].out_id)
            key = r.notifier.signer.callback_key("aliyun-sms")
            async with r.http() as http:
                forged = await http.post(
                    "/notify/receipts/aliyun-sms/not-the-key", content=json.dumps([report])
                )
                assert forged.status_code == 404 and sms.state == "sent"
                answer = await http.post(f"/notify/receipts/aliyun-sms/{key}", content=json.dumps([report]))
                assert answer.status_code == 200 and answer.json()["code"] == 0
                garbage = await http.post(f"/notify/receipts/aliyun-sms/{key}", content=b"{not json")
                assert garbage.status_code == 400
            assert sms.state == "delivered" and sms.key not in r.notifier.live
            await r.notifier.flush()
            assert not rx.at("/apprise/p-1"), "delivered: the standby channel stays asleep"


async def test_a_failed_report_wakes_the_next_channel(tmp_path: Path, aliyun: AliyunReceiver) -> None:
    with Receiver() as rx:
        reg = _registry(rx, f"aliyun-sms://{PHONE}")
        async with rig(tmp_path, rx, reg, **_settings(aliyun)) as r:
            r.notifier.offer(transition("GAS-3", severity=Severity.P3, ts=time.time()))
            await r.settle(lambda: len(aliyun.sms) == 1)
            report = aliyun.deliver(aliyun.sms[0].out_id, success=False, err_code="MK:0001")
            applied = await r.notifier.receipts("aliyun-sms", json.dumps([report]).encode(), {})
            assert applied[1].startswith(b"{")
            await r.settle(lambda: len(rx.at("/apprise/p-1")) == 1)


async def test_an_unanswered_call_wakes_the_next_channel_and_an_answered_one_is_delivered(
    tmp_path: Path, aliyun: AliyunReceiver
) -> None:
    with Receiver() as rx:
        reg = _registry(rx, f"aliyun-voice://{PHONE}")
        async with rig(
            tmp_path, rx, reg, **_settings(aliyun), ladder={"aliyun-voice": {"P3": 0.0}}
        ) as r:  # voice at once: receipts here
            r.notifier.offer(transition("CO-4", severity=Severity.P3, ts=time.time()))
            await r.settle(lambda: len(aliyun.calls) == 1)
            call = next(d for d in r.notifier.live.values() if d.channel == "aliyun-voice")
            await r.settle(lambda: call.state == "sent")
            busy = aliyun.end_call(aliyun.calls[0].out_id, status_code="200005")
            await r.notifier.receipts("aliyun-voice", json.dumps([busy]).encode(), {})
            assert call.state == "failed"
            await r.settle(lambda: len(rx.at("/apprise/p-1")) == 1)

            # Aliyun calls one number at most once a minute: the answered call is another resident's phone
            household = reg["buildings"][0]["units"][0]["households"][0]
            household["residents"][0]["notify"][0] = "aliyun-voice://13800000002"
            r.notifier.planner.directory = Directory(load_registries(_write(tmp_path, reg)))
            r.notifier.offer(transition("CO-4", severity=Severity.P3, ts=time.time() + 1, n=1))
            await r.settle(lambda: len(aliyun.calls) == 2)
            second = next(d for d in r.notifier.live.values() if d.channel == "aliyun-voice")
            await r.settle(lambda: second.state == "sent")
            answered = aliyun.end_call(aliyun.calls[1].out_id, status_code="200000")
            await r.notifier.receipts("aliyun-voice", json.dumps([answered]).encode(), {})
            assert second.state == "delivered"


async def test_the_ladder_calls_only_if_nobody_acknowledged_in_time(
    tmp_path: Path, aliyun: AliyunReceiver
) -> None:
    """A P1 goes to the app's channels at once; the voice call is the ladder's next step and rings only if
    nobody acknowledged by then. A P4 never rings."""
    with Receiver() as rx:
        reg = _registry(rx, f"aliyun-voice://{PHONE}")
        ladder = {"ladder": {"aliyun-voice": {"P1": 1.5, "P2": 600.0, "P3": None, "P4": None}}}
        async with rig(tmp_path, rx, reg, **_settings(aliyun), **ladder) as r:
            quiet = transition("HLT-3", severity=Severity.P4, ts=time.time(), n=3)
            r.notifier.offer(quiet)
            answered = transition("CO-1", ts=time.time(), n=1)
            r.notifier.offer(answered)
            await r.settle(lambda: len(rx.at("/apprise/p-1")) == 2)  # the P1 and the P4, at once
            assert aliyun.calls == []
            await r.notifier.acknowledge(answered.alarm_id, "p-1")  # answered before the call was due
            unanswered = transition("CO-1", ts=time.time(), n=2)
            r.notifier.offer(unanswered)
            await r.settle(lambda: len(aliyun.calls) == 1, within=10)
            call = next(d for d in r.notifier.live.values() if d.channel == "aliyun-voice")
            assert call.alarm_id == unanswered.alarm_id
            assert call.sent_at is not None and call.sent_at - call.queued_at >= 1.5
            await asyncio.sleep(2.0)
            assert len(aliyun.calls) == 1, "the acknowledged alarm and the P4 never rang"


async def test_a_p1_past_the_daily_cap_goes_out_and_raises_sys_cost(
    tmp_path: Path, aliyun: AliyunReceiver
) -> None:
    with Receiver() as rx:
        reg = _registry(rx, f"aliyun-sms://{PHONE}")
        options = _settings(aliyun)
        options["aliyun"]["daily_cap_per_number"] = 1
        async with rig(tmp_path, rx, reg, **options) as r:
            r.notifier.offer(transition("GAS-2", ts=time.time(), n=1))
            await r.settle(lambda: len(aliyun.sms) == 1)
            r.notifier.offer(transition("GAS-2", ts=time.time() + 1, n=2))
            await r.settle(lambda: len(aliyun.sms) == 2)  # past the cap, and still sent: a P1
            await r.settle(lambda: any(t.rule == "SYS-COST" for t in r.transitions))
            cost = next(t for t in r.transitions if t.rule == "SYS-COST")
            assert cost.transition == "raised" and PHONE not in cost.subject
