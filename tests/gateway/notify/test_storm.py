"""A storm: 500 households' P1 gas alarms at once, beside a flood of P4 battery notices to the same people.
Every P1 still reaches every resident's phone by SMS and then by a call (the ladder), each number called
once; the P4 SMS past a number's daily cap wait (the P1s never do); the property's bot is never sent more
than its rate allows. Against the local Aliyun (which enforces one call a minute per number) and a bot."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alerts.rule import Audience, Severity
from alerts.signals import Transition, Where
from simulators import estate
from tests.gateway.notify.aliyun_receiver import AliyunReceiver
from tests.gateway.notify.receivers import Receiver
from tests.gateway.notify.rig import rig

KEY_ID = "LTAI5tGasGuardianStorm"
SECRET = "the-storm-s-own-aliyun-secret"


@pytest.fixture
def aliyun() -> Iterator[AliyunReceiver]:
    with AliyunReceiver({KEY_ID: SECRET}, show_numbers=("057100000000",)) as rx:
        yield rx


def _estate(rx: Receiver) -> tuple[dict[str, Any], list[tuple[str, str, str, str]]]:
    reg = estate.small_estate(site="t1", buildings=5, units=10, households_per_unit=10)
    homes = []
    n = 0
    for b in reg["buildings"]:
        for u in b["units"]:
            for h in u["households"]:
                h["residents"] = h["residents"][:1]
                n += 1
                number = f"139{n:08d}"
                h["residents"][0]["notify"] = [f"aliyun-sms://{number}", f"aliyun-voice://{number}"]
                homes.append((b["id"], u["id"], h["id"], number))
    reg["property"] = [{"id": "pm-1", "notify": [f"dingtalk+{rx.url}/bot/pm?access_token=t"]}]
    reg["grids"][0]["officers"] = []
    return reg, homes


def _alarm(
    rule: str, severity: Severity, home: tuple[str, str, str, str], ts: float, notify: tuple[Audience, ...]
) -> Transition:
    building, unit, household, _ = home
    return Transition(
        ts=ts, alarm_id=f"t1:{rule}:{household}:{round(ts * 1000)}", rule=rule, severity=severity,
        transition="raised", where=Where("t1", building, unit, household), subject=household, notify=notify,
    )  # fmt: skip


async def test_500_p1_alarms_reach_every_phone_while_caps_and_bot_rates_hold(
    tmp_path: Path, aliyun: AliyunReceiver
) -> None:
    with Receiver() as rx:
        reg, homes = _estate(rx)
        settings: dict[str, Any] = {
            "aliyun": {
                "access_key_id": KEY_ID, "access_key_secret": SECRET, "sms_endpoint": aliyun.sms_url,
                "voice_endpoint": aliyun.voice_url, "sign_name": "燃气卫士", "sms_templates": "SMS_470001",
                "voice_tts_template": "TTS_470002", "daily_cap_per_number": 1, "voice_report_wait_s": 5.0,
                "site_daily_cap_sms": None,  # the per-number cap is what this storm is about
            },
            "ladder": {"aliyun-voice": {"P1": 1.0, "P2": 600.0, "P3": None, "P4": None}},
            "webhooks": [], "bot_per_minute": 18, "poll_seconds": 3600.0, "concurrency": 64,
            "send_timeout": 10.0,  # the default: a provider slowed by a storm is still waited for
        }  # fmt: skip
        async with rig(tmp_path, rx, reg, **settings) as r:
            now = time.time()
            for i, home in enumerate(homes):  # a P4 first: it takes the number's one SMS of the day
                r.notifier.offer(_alarm("HLT-3", Severity.P4, home, now + i * 1e-3, (Audience.RESIDENTS,)))
            await r.settle(lambda: len(aliyun.sms) >= len(homes), within=60)
            started = time.time()
            for i, home in enumerate(homes):
                r.notifier.offer(_alarm("GAS-2", Severity.P1, home, now + 1 + i * 1e-3, (Audience.RESIDENTS, Audience.PROPERTY)))  # fmt: skip
            try:
                await r.settle(lambda: len(aliyun.calls) >= len(homes), within=90)
            except TimeoutError:
                states = sorted({(d.channel, d.state, d.error[:60]) for d in r.notifier.live.values()})
                raise AssertionError(f"{len(aliyun.calls)} calls; open: {states[:12]}") from None
            took = time.time() - started
            numbers = [h[3] for h in homes]
            assert sorted(c.called for c in aliyun.calls) == sorted(numbers), "each phone called once"
            # a provider overwhelmed drops connections (the receiver's backlog is a real server's): the SMS of
            # those are retried, after QuerySendDetails says they did not go, and none goes twice
            await r.settle(lambda: len(aliyun.sms) >= 2 * len(homes), within=90)
            texts = [s.phone for s in aliyun.sms]
            counts = {n: texts.count(n) for n in numbers}
            odd = {n: c for n, c in counts.items() if c != 2}
            assert not odd, f"the P4 and the P1, the P1 past the cap; otherwise {sorted(odd.items())[:10]}"
            assert took < 60, f"500 P1 calls took {took:.0f} s"
            # the property's bot: 500 P1s merged into digests, never more than its rate in any minute
            bot = rx.at("/bot/pm")
            assert bot and len(bot) <= 18 + 4, len(bot)
            # a later P4 to a capped number waits for the next day instead of being sent
            r.notifier.offer(_alarm("HLT-3", Severity.P4, homes[0], time.time(), (Audience.RESIDENTS,)))
            await r.settle(lambda: any(d.state == "standby" or d.error.startswith("not sent: daily cap")
                                       for d in r.notifier.live.values() if d.rule == "HLT-3"), within=20)  # fmt: skip
            assert [s.phone for s in aliyun.sms].count(homes[0][3]) == 2
