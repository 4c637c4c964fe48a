"""A site's daily cap on paid sends, through the whole notifier and the local Aliyun: P4 SMS past it wait
for the site's next midnight, a P1 goes out anyway and raises SYS-COST once for the site's day, the count
survives a restart, and the daily report, reading the points from a real InfluxDB, shows it all."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts.rule import Severity
from gateway.config.settings import InfluxSettings
from gateway.influx.client import InfluxV1
from gateway.influx.retention import ensure_schema
from gateway.ops import services
from gateway.ops.report import collect, render
from tests.gateway.notify.aliyun_receiver import AliyunReceiver
from tests.gateway.notify.receivers import Receiver
from tests.gateway.notify.rig import registry, rig, transition

KEY_ID = "LTAI5tGasGuardianCaps"
SECRET = "the-site-cap-test-s-secret"
PHONES = ("13800000011", "13800000012")
ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def aliyun() -> Iterator[AliyunReceiver]:
    with AliyunReceiver({KEY_ID: SECRET}) as rx:
        yield rx


def _settings(ali: AliyunReceiver) -> dict[str, Any]:
    return {
        "aliyun": {
            "access_key_id": KEY_ID,
            "access_key_secret": SECRET,
            "sms_endpoint": ali.sms_url,
            "sign_name": "燃气卫士",
            "sms_templates": "SMS_470001",
        },
        "site_caps": {"t1": {"aliyun-sms": 2}},
        "webhooks": [],
        "poll_seconds": 3600.0,
    }


def _registry(rx: Receiver) -> dict[str, Any]:
    reg = registry(rx)
    household = reg["buildings"][0]["units"][0]["households"][0]
    # two residents, one number each: the per-number cap (40) is far away, the site's (2) is not
    household["residents"] = [
        {"id": f"p-{n}", "notify": [f"aliyun-sms://+86{phone}"]} for n, phone in enumerate(PHONES, 1)
    ]
    household["contacts"] = []
    return reg


def _midnight(ts: float) -> float:
    tomorrow = dt.datetime.fromtimestamp(ts, ZONE).date() + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(), ZONE).timestamp()


async def test_the_site_cap_holds_p4_sms_lets_a_p1_through_and_raises_sys_cost_once(
    tmp_path: Path, aliyun: AliyunReceiver
) -> None:
    lines: list[bytes] = []
    with Receiver() as rx:
        reg = _registry(rx)
        async with rig(tmp_path, rx, reg, **_settings(aliyun)) as r:
            r.notifier.offer(transition("HLT-3", severity=Severity.P4, ts=time.time(), n=1))  # 2 SMS
            await r.settle(lambda: len(aliyun.sms) == 2)
            held_p4 = transition("HLT-3", severity=Severity.P4, ts=time.time(), n=2)
            r.notifier.offer(held_p4)
            await r.settle(
                lambda: (
                    sum(1 for d in r.notifier.live.values() if d.alarm_id == held_p4.alarm_id) == 2
                    and all(
                        "site cap" in d.error
                        for d in r.notifier.live.values()
                        if d.alarm_id == held_p4.alarm_id
                    )
                )
            )
            held = [d for d in r.notifier.live.values() if d.alarm_id == held_p4.alarm_id]
            assert all(d.state == "queued" and abs(d.next_at - _midnight(time.time())) < 5 for d in held)
            assert all(d.attempts == 0 for d in held)  # held on purpose: not a failed attempt
            assert len(aliyun.sms) == 2
            assert not any(t.rule == "SYS-COST" for t in r.transitions)

            urgent = transition("GAS-2", ts=time.time(), n=3)  # a P1: past the cap, and sent
            r.notifier.offer(urgent)
            await r.settle(lambda: len(aliyun.sms) == 4)
            await r.settle(lambda: any(t.rule == "SYS-COST" for t in r.transitions))
            r.notifier.offer(transition("GAS-2", ts=time.time() + 1, n=4))  # another P1: no second alarm
            await r.settle(lambda: len(aliyun.sms) == 6)
            await r.notifier.flush()
            cost = [t for t in r.transitions if t.rule == "SYS-COST" and t.transition == "raised"]
            assert [t.subject for t in cost] == ["site:t1"], cost
            metrics = r.notifier.metrics
            assert metrics.paid_today.labels(site="t1", channel="aliyun-sms")._value.get() == 6
            capped = metrics.paid_capped.labels(site="t1", channel="aliyun-sms", cap="site", outcome="sent")
            assert capped._value.get() == 4
            lines += r.lines.lines

        # a restart counts today's sends from the outbox: a new P4 is held at once
        async with rig(tmp_path, rx, reg, **_settings(aliyun)) as r:
            assert r.notifier.caps.count("t1", "aliyun-sms", time.time()) == 6
            after = transition("HLT-3", severity=Severity.P4, ts=time.time(), n=5)
            r.notifier.offer(after)
            await r.settle(
                lambda: any(
                    "site cap" in d.error for d in r.notifier.live.values() if d.alarm_id == after.alarm_id
                )
            )
            assert len(aliyun.sms) == 6
            await r.notifier.flush()
            await r.settle(
                lambda: any(b"HLT-3:s-5" in line and b"state=held" in line for line in r.lines.lines)
            )
            lines += r.lines.lines

    # the daily report, from a real InfluxDB holding the very points the notifier wrote
    with services.influxd(tmp_path / "influxdb") as server:
        services.wait_influx_ready(server.port)
        settings = InfluxSettings(url=f"http://127.0.0.1:{server.port}")  # type: ignore[call-arg]
        async with InfluxV1(settings) as influx:
            await ensure_schema(influx)
            await influx.write(b"\n".join(lines), rp=influx.policy("notification"))
            day = dt.datetime.now(ZONE).date()
            report = await collect(influx, "t1", "Test", day, ZONE)
    sms = report.paid["aliyun-sms"]
    assert (sms.sent, sms.held, sms.past_cap) == (6, 4, 4), (
        report.paid
    )  # 2 P4 SMS held before the restart, 2 after
    html = render(report)
    section = html.split('<section id="paid">', 1)[1].split("</section>", 1)[0]
    assert "<td>aliyun-sms</td><td>6</td><td>4</td><td>4</td>" in section, section
