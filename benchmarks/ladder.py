"""Reaching people in China: publish -> the first attempt on every P1 channel, the ladder's timers, and the
deliveries a second the notifier sustains, all against the local providers (the gateway a child process).

Every probe household's one resident has a mainland number (Aliyun SMS and voice), a WeChat openid (the
property's Official Account), a JPush registration id (the residents' app) and a Web Push subscription
enrolled through the gateway's API. The providers are the test receivers, which check what the real ones
check (Aliyun's RPC signature and nonce, JPush's Basic auth and push object, WeChat's token and template
fields, VAPID and aes128gcm for Web Push). Times are the receiver's receipt of the request minus the
device's publish time (the event's `ts`, read back from the MQTT alarm topic): one clock, one machine.

1. First attempt: 40 `alarm_co` probes, one every 0.5 s, under 10k msg/s of background telemetry (the
   publisher of benchmarks/notify_latency.py); per channel and for the slowest channel of each probe.
2. Ladder: the voice call's step is set to VOICE_STEP (20 s instead of 2 min, so the run stays short; the
   timer is the same heap entry whatever its length); 100 CO alarms raised at once, nobody acknowledges;
   per alarm, the call's receipt minus the alarm's first attempt received, against the step.
3. Throughput: BURST households' CO alarms at once (P1: every channel at once, the call at its step);
   receiver-side requests a second over the burst, per channel and in total.

`BENCH_LADDER_SCALE` (default 1) scales sections 2 and 3 down for a quick run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import msgspec

from benchmarks.notify_latency import PROBES, percentile, run_level
from gateway.ops import services
from gateway.tokens import Signer
from simulators import estate
from simulators.fleet import connected
from tests.gateway.notify.aliyun_receiver import AliyunReceiver
from tests.gateway.notify.jpush_receiver import JPushReceiver
from tests.gateway.notify.receivers import Receiver
from tests.gateway.notify.wechat_receiver import WeChatServer
from tests.support import GatewayProcess, wait_for

SCALE = float(os.environ.get("BENCH_LADDER_SCALE", "1"))
LADDER_ALARMS = max(2, round(100 * SCALE))
BURST = max(2, round(500 * SCALE))
VOICE_STEP = 20.0
BACKGROUND = 10_000
LINK_SECRET = "benchmark-link-secret-0123456789"
KEY_ID, KEY_SECRET = "LTAI5tGasGuardianBench", "the-benchmark-s-aliyun-secret"
APPID, APP_SECRET = "wx0123456789abcdef", "0123456789abcdef0123456789abcdef"
JPUSH_KEY, JPUSH_SECRET = "7d431e42dfa6a6d693ac2d04", "5e987ac6d2e04d95a9d8f0d1"
JPUSH_QUOTA = 10_000
"""Pushes a minute the local JPush allows: a free app gets 600 (10 a second), which would make section 3
measure JPush's quota rather than the notifier."""
IMMEDIATE = ("aliyun-sms", "wechat", "jpush", "webpush")
CHANNELS = (*IMMEDIATE, "aliyun-voice")
TEMPLATE_SEND = "/cgi-bin/message/template/send"


@dataclass(frozen=True, kw_only=True)
class Home:
    sensor: str
    person: str
    number: str
    openid: str
    rid: str


@dataclass(frozen=True, kw_only=True)
class Hit:
    """One request a provider received: which channel, for which home, when."""

    channel: str
    sensor: str
    at: float


class TimedWeChat(WeChatServer):
    """WeChat's server, with the time each template message arrived (its own record keeps none)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[tuple[float, str]] = []

    def handle(self, h: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        at = time.time()
        if h.path.startswith(TEMPLATE_SEND):
            with self.lock:
                self.arrived.append((at, str(json.loads(body).get("touser", ""))))
        super().handle(h, method, body)


@dataclass
class Providers:
    aliyun: AliyunReceiver
    wechat: TimedWeChat
    jpush: JPushReceiver
    push: Receiver
    homes: list[Home] = field(default_factory=list)

    def hits(self) -> list[Hit]:
        """Every accepted send so far, as (channel, home, receipt time)."""
        by_number = {h.number: h.sensor for h in self.homes}
        by_openid = {h.openid: h.sensor for h in self.homes}
        by_rid = {h.rid: h.sensor for h in self.homes}
        by_person = {h.person: h.sensor for h in self.homes}
        with self.aliyun.lock:
            out = [Hit(channel="aliyun-sms", sensor=by_number[s.phone], at=s.at) for s in self.aliyun.sms]
            out += [
                Hit(channel="aliyun-voice", sensor=by_number[c.called], at=c.at) for c in self.aliyun.calls
            ]
        with self.wechat.lock:
            out += [Hit(channel="wechat", sensor=by_openid[o], at=at) for at, o in self.wechat.arrived]
        with self.jpush.lock:
            out += [
                Hit(channel="jpush", sensor=by_rid[t], at=p.at) for p in self.jpush.pushes for t in p.targets
            ]
        out += [
            Hit(channel="webpush", sensor=by_person[r.path.removeprefix("/push/")], at=r.at)
            for r in self.push.at("/push/", 201)
        ]
        return out


def first_hits(hits: Iterable[Hit], sensors: set[str], since: float) -> dict[tuple[str, str], float]:
    """(channel, sensor) -> the first request of that channel for that home at or after `since`."""
    first: dict[tuple[str, str], float] = {}
    for h in hits:
        if h.sensor in sensors and h.at >= since:
            key = (h.channel, h.sensor)
            first[key] = min(first.get(key, h.at), h.at)
    return first


def homes_of(registry: dict[str, Any], count: int) -> tuple[list[Home], list[str]]:
    """The first `count` households get one resident with every address; the rest send the background."""
    households = [h for b in registry["buildings"] for u in b["units"] for h in u["households"]]
    homes = []
    for n, h in enumerate(households[:count], start=1):
        number, openid, rid = f"139{n:08d}", f"oPENID{n:022d}", f"1a{n:017d}"
        h["residents"] = [
            {
                "id": h["residents"][0]["id"],
                "notify": [
                    f"aliyun-sms://+86{number}",
                    f"aliyun-voice://+86{number}",
                    f"wechat://{openid}",
                    f"jpush://{rid}",
                ],
            }
        ]
        homes.append(
            Home(
                sensor=h["sensors"][0]["id"],
                person=h["residents"][0]["id"],
                number=number,
                openid=openid,
                rid=rid,
            )
        )
    return homes, [h["sensors"][0]["id"] for h in households[count:]]


def provider_env(p: Providers) -> dict[str, str]:
    """The gateway's settings naming the local providers, as a site's environment would."""
    aliyun = {
        "access_key_id": KEY_ID,
        "access_key_secret": KEY_SECRET,
        "sms_endpoint": p.aliyun.sms_url,
        "voice_endpoint": p.aliyun.voice_url,
        "sign_name": "燃气卫士",
        "sms_templates": "SMS_470001",
        "voice_tts_template": "TTS_470002",
        # the per-site daily caps never hold a P1 (they raise SYS-COST); off so the run has no other alarm
        "site_daily_cap_sms": None,
        "site_daily_cap_voice": None,
    }
    wechat = {"appid": APPID, "secret": APP_SECRET, "template_id": "tpl_alarm", "base_url": p.wechat.url}
    jpush = {
        "app_key": JPUSH_KEY,
        "master_secret": JPUSH_SECRET,
        "base_url": p.jpush.url,
        "report_url": p.jpush.url,
        "android_channel_ids": {"P1": "co_alarm", "*": "alarm"},
    }
    return {
        "GUARDIAN_NOTIFY__LINK_SECRET": LINK_SECRET,
        "GUARDIAN_NOTIFY__PUSH_HOSTS": json.dumps([f"127.0.0.1:{p.push.port}"]),
        "GUARDIAN_NOTIFY__ALIYUN": json.dumps(aliyun, ensure_ascii=False),
        "GUARDIAN_NOTIFY__WECHAT": json.dumps(wechat),
        "GUARDIAN_NOTIFY__JPUSH": json.dumps(jpush),
        "GUARDIAN_NOTIFY__LADDER": json.dumps(
            {"aliyun-voice": {"P1": VOICE_STEP, "P2": 600.0, "P3": None, "P4": None}}
        ),
    }


def enrol(gw: GatewayProcess, push: Receiver, homes: list[Home]) -> None:
    """Each resident's phone subscribes through the enrolment link, as `guardian enroll` makes it."""
    signer = Signer(LINK_SECRET.encode())
    with httpx.Client(base_url=f"http://127.0.0.1:{gw.http_port}", timeout=10) as client:
        for h in homes:
            token = signer.sign("enroll", f"t1/{h.person}", expires=time.time() + 3600)
            client.post(
                "/api/v1/push/subscriptions", json={"token": token, "subscription": push.phone(h.person)}
            ).raise_for_status()


def raise_at_once(port: int, homes: list[Home], client_id: str) -> None:
    """Every home's detector sounds in the same instant (one session publishing back to back)."""

    async def burst() -> None:
        async with connected("127.0.0.1", port, client_id) as session:
            for h in homes:
                event = {"seq": 1, "ts": time.time(), "event": "alarm_co"}
                await session.publish(f"guardian/t1/sensor/{h.sensor}/event", msgspec.json.encode(event))

    asyncio.run(burst())


def ms(values: list[float]) -> str:
    if not values:
        return "none received"
    return f"p50 {statistics.median(values):.0f} ms, p99 {percentile(values, 99):.0f} ms"


def first_attempts(
    p: Providers, broker_port: int, homes: list[Home], background: list[str], raised: Raised
) -> None:
    since = time.time()
    groups = [{"sensors": [{"id": h.sensor}]} for h in homes]
    run_level(broker_port, BACKGROUND, groups, background)
    sensors = {h.sensor for h in homes}

    def arrived() -> int:  # the immediate channels only: the early probes' calls come while the last go
        return sum(1 for (c, _s) in first_hits(p.hits(), sensors, since) if c in IMMEDIATE)

    wait_for(
        lambda: arrived() >= len(IMMEDIATE) * len(homes),
        20,
        0.2,
        "first attempts",
    )
    first = first_hits(p.hits(), sensors, since)
    per_channel = {
        c: [(first[(c, s)] - raised.ts[s]) * 1000 for s in sensors if (c, s) in first] for c in IMMEDIATE
    }
    every = [
        (max(first[(c, s)] for c in IMMEDIATE) - raised.ts[s]) * 1000
        for s in sensors
        if all((c, s) in first for c in IMMEDIATE)
    ]
    decided = [raised.decided[s] * 1000 for s in sensors if s in raised.decided]
    print(
        f"publish -> first attempt received, {len(homes)} CO alarms (P1) under {BACKGROUND:,} msg/s of background:"
        f" every channel {ms(every)} ({len(every)}/{len(homes)} alarms reached on all {len(IMMEDIATE)});"
        f" decision {ms(decided)}"
    )
    print("  " + "; ".join(f"{c} {ms(v)} ({len(v)})" for c, v in per_channel.items()))


def ladder(p: Providers, broker_port: int, homes: list[Home], raised: Raised) -> None:
    since = time.time()
    raise_at_once(broker_port, homes, "guardian-ladder")
    sensors = {h.sensor for h in homes}

    def calls() -> int:
        return sum(1 for (c, _s) in first_hits(p.hits(), sensors, since) if c == "aliyun-voice")

    wait_for(lambda: calls() >= len(homes), VOICE_STEP + 60, 0.2, "every call")
    first = first_hits(p.hits(), sensors, since)
    errors, from_publish = [], []
    for s in sensors:
        attempts = [first[(c, s)] for c in IMMEDIATE if (c, s) in first]
        call = first.get(("aliyun-voice", s))
        if attempts and call is not None:
            errors.append(call - min(attempts) - VOICE_STEP)
            from_publish.append(call - raised.ts[s] - VOICE_STEP)
    worst = max(abs(e) for e in errors)
    p99 = percentile([abs(e) for e in errors], 99)
    print(
        f"ladder, voice step {VOICE_STEP:.0f} s, {len(homes)} P1s raised at once, none acknowledged:"
        f" call received - first attempt received - step: max |error| {worst:.3f} s, p99 |error| {p99:.3f} s,"
        f" median {statistics.median(errors):+.3f} s ({len(errors)}/{len(homes)} calls);"
        f" from the publish: median {statistics.median(from_publish):+.3f} s, max {max(from_publish):+.3f} s"
    )


def throughput(p: Providers, broker_port: int, homes: list[Home], gateway_pid: int) -> None:
    samples = [(time.time(), cpu_seconds(gateway_pid), time.process_time())]
    since = samples[0][0]
    raise_at_once(broker_port, homes, "guardian-burst")
    sensors = {h.sensor for h in homes}
    expected = len(CHANNELS) * len(homes)

    def done() -> bool:
        samples.append((time.time(), cpu_seconds(gateway_pid), time.process_time()))
        return len(first_hits(p.hits(), sensors, since)) >= expected

    with contextlib.suppress(AssertionError):  # past the wait, report what arrived
        wait_for(done, VOICE_STEP + 120, 0.2, "the burst")
    hits = [h for h in p.hits() if h.sensor in sensors and h.at >= since]
    rates = []
    for c in CHANNELS:
        times = sorted(h.at for h in hits if h.channel == c)
        rates.append(f"{c} {rate(times)}")
    immediate = sorted(h.at for h in hits if h.channel in IMMEDIATE)
    last = f"{immediate[-1] - since:.1f} s" if immediate else "-"
    end = next((s for s in samples if immediate and s[0] >= immediate[-1]), samples[-1])
    wall = end[0] - since
    print(
        f"deliveries a second, {len(homes)} CO alarms (P1) at once, receiver side:"
        f" the four immediate channels together {rate(immediate)}; published -> last immediate {last};"
        f" CPU meanwhile: gateway {end[1] - samples[0][1]:.1f} s, the receivers' process"
        f" {end[2] - samples[0][2]:.1f} s, over {wall:.1f} s"
    )
    print("  " + "; ".join(rates))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rate(times: list[float]) -> str:
    """Requests over their own window (first to last), and the busiest whole second."""
    if len(times) < 2:
        return f"{len(times)} requests"
    window = times[-1] - times[0]
    start = times[0]
    seconds: dict[int, int] = {}
    for t in times:
        seconds[int(t - start)] = seconds.get(int(t - start), 0) + 1
    return f"{len(times) / window:,.0f}/s ({len(times)} in {window:.1f} s, busiest second {max(seconds.values())})"


@dataclass
class Raised:
    """Per sensor: its CO-1's ts (the device's publish time) and decision delay, from the alarm topic."""

    ts: dict[str, float] = field(default_factory=dict)
    decided: dict[str, float] = field(default_factory=dict)

    def follow(self, broker_port: int) -> Callable[[], None]:
        sirens = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker_port), "-t", "guardian/t1/alarm/#"],
            stdout=subprocess.PIPE,
            text=True,
        )

        def read() -> None:
            assert sirens.stdout is not None
            for line in sirens.stdout:
                m = json.loads(line)
                if m["transition"] == "raised" and m["rule"] == "CO-1":
                    self.ts[m["subject"]] = m["ts"]
                    self.decided[m["subject"]] = m["decided_at"] - m["ts"]

        threading.Thread(target=read, daemon=True).start()
        return sirens.kill


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="guardian-ladder-bench-"))
    registry = estate.small_estate(site="t1", buildings=10, units=10, households_per_unit=20)  # 2,000 homes
    homes, background = homes_of(registry, PROBES + LADDER_ALARMS + BURST)
    registry_file = tmp / "registry.yaml"
    registry_file.write_text(estate.dump(registry))
    with (
        AliyunReceiver({KEY_ID: KEY_SECRET}) as aliyun,
        TimedWeChat() as wechat,
        JPushReceiver(JPUSH_KEY, JPUSH_SECRET, {h.rid: "jpush" for h in homes}, quota=JPUSH_QUOTA) as jpush,
        Receiver() as push,
        services.mosquitto(tmp / "mq") as broker,
        services.influxd(tmp / "ix") as influx,
    ):
        # socketserver listens with a backlog of 5; a provider's API gateway takes more than 5 connections
        # at once (receivers.py sets 128 for the same reason)
        aliyun.server.socket.listen(128)
        wechat.account(APPID, APP_SECRET, followers=tuple(h.openid for h in homes), tpl_alarm=["thing1", "thing2", "time3", "thing4"])  # fmt: skip
        providers = Providers(aliyun, wechat, jpush, push, homes)
        services.wait_influx_ready(influx.port)
        gw = GatewayProcess.against(
            broker, influx, registry=registry_file, data_dir=tmp / "gw", extra_env=provider_env(providers)
        )
        gw.start(timeout=120)
        raised = Raised()
        stop = raised.follow(broker.port)
        try:
            enrol(gw, push, homes)
            probes, rest = homes[:PROBES], homes[PROBES:]
            first_attempts(providers, broker.port, probes, background, raised)
            # the probes' own calls come VOICE_STEP after them: let them go before the next section
            wait_for(lambda: len(aliyun.calls) >= len(probes), VOICE_STEP + 30, 0.2, "the probes' calls")
            ladder(providers, broker.port, rest[:LADDER_ALARMS], raised)
            assert gw.proc is not None
            throughput(providers, broker.port, rest[LADDER_ALARMS:], gw.proc.pid)
        finally:
            stop()
            gw.stop()


if __name__ == "__main__":
    main()
