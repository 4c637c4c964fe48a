"""Sensor publish -> alarm decided and handed to the channels, and -> Web Push request received by a local
push service, under 10k and 20k msg/s of background telemetry (issue 4's targets: decision p50 <= 10 ms,
p99 <= 20 ms at 10k and <= 50 ms at 20k; push p99 <= 250 ms).

Probes are `alarm_co` events from households whose resident has a push subscription; each raises CO-1 (P1)
at once. The decision time is the gateway's own stamp (`decided_at`, the moment the deliveries are handed
to the channels) read back from the MQTT alarm topic, minus the device's publish time; the push time is
when the push service received the request (it verifies VAPID and decrypts, as a real one does).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import msgspec

from gateway.ops import services
from gateway.tokens import Signer
from simulators import estate
from simulators.fleet import connected, publish_all
from tests.gateway.notify.receivers import Receiver
from tests.support import GatewayProcess

LINK_SECRET = "benchmark-link-secret-0123456789"
PROBES = int(os.environ.get("BENCH_NOTIFY_PROBES", "40"))
HOUSEHOLDS_PER_UNIT = int(os.environ.get("BENCH_NOTIFY_PER_UNIT", "20"))
"""10 buildings x 10 units x this many households, one sensor each: 20 gives 2,000 sensors; 1,000 gives
100,000 (the estate whose rule snapshot and estate state cost the event loop 100-200 ms when made in place)."""
LEVELS = [int(x) for x in os.environ.get("BENCH_NOTIFY_LEVELS", "10000,20000").split(",")]
EXTRA_ENV: dict[str, str] = {}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="guardian-notify-bench-"))
    registry = estate.small_estate(site="t1", buildings=10, units=10, households_per_unit=HOUSEHOLDS_PER_UNIT)
    households = [h for b in registry["buildings"] for u in b["units"] for h in u["households"]]
    probes = households[: len(LEVELS) * PROBES]
    background = [h["sensors"][0]["id"] for h in households[len(LEVELS) * PROBES :]]
    registry_file = tmp / "registry.yaml"
    registry_file.write_text(estate.dump(registry))
    with Receiver() as rx, services.mosquitto(tmp / "mq") as broker, services.influxd(tmp / "ix") as influx:
        services.wait_influx_ready(influx.port)
        gw = GatewayProcess.against(
            broker,
            influx,
            registry=registry_file,
            data_dir=tmp / "gw",
            extra_env={
                "GUARDIAN_NOTIFY__LINK_SECRET": LINK_SECRET,
                # the local push service plays a real one: phones' endpoints must be on an allowed host
                "GUARDIAN_NOTIFY__PUSH_HOSTS": json.dumps([f"127.0.0.1:{rx.port}"]),
                **EXTRA_ENV,
            },
        )
        gw.start(timeout=120)
        signer = Signer(LINK_SECRET.encode())
        for h in probes:
            person = h["residents"][0]["id"]
            token = signer.sign("enroll", f"t1/{person}", expires=time.time() + 3600)
            res = httpx.post(
                f"http://127.0.0.1:{gw.http_port}/api/v1/push/subscriptions",
                json={"token": token, "subscription": rx.phone(person)},
            )
            res.raise_for_status()
        sirens = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "guardian/t1/alarm/#"],
            stdout=subprocess.PIPE,
            text=True,
        )
        decided: dict[str, float] = {}

        def read_sirens() -> None:
            assert sirens.stdout is not None
            for line in sirens.stdout:
                m = json.loads(line)
                if m["transition"] == "raised" and m["rule"] == "CO-1":
                    decided[m["subject"]] = m["decided_at"] - m["ts"]

        threading.Thread(target=read_sirens, daemon=True).start()
        try:
            for n, level in enumerate(LEVELS):
                group = probes[n * PROBES : (n + 1) * PROBES]
                run_level(broker.port, level, group, background)
                time.sleep(3)
                sensors = [h["sensors"][0]["id"] for h in group]
                people = {h["residents"][0]["id"]: h["sensors"][0]["id"] for h in group}
                decisions = [decided[s] * 1000 for s in sensors if s in decided]
                pushes = []
                for req in rx.at("/push/", 201):
                    person = req.path.removeprefix("/push/")
                    if person in people and req.decrypted and req.decrypted["transition"] == "raised":
                        pushes.append((req.at - req.decrypted["ts"]) * 1000)
                print(
                    f"background {level:,} msg/s: decision p50 {statistics.median(decisions):.1f} ms, "
                    f"p99 {percentile(decisions, 99):.1f} ms ({len(decisions)}/{len(sensors)} alarms); "
                    f"push received p50 {statistics.median(pushes):.1f} ms, p99 {percentile(pushes, 99):.1f} ms "
                    f"({len(pushes)} pushes)"
                )
        finally:
            sirens.kill()
            gw.stop()


def run_level(port: int, rate: int, group: list[dict], background: list[str]) -> None:
    """Background telemetry at `rate` msg/s for the probes' duration, probes every 0.5 s in the middle."""
    seconds = PROBES * 0.5 + 6
    start = time.time()
    load = [
        (
            f"guardian/t1/sensor/{background[i % len(background)]}/telemetry",
            msgspec.json.encode(
                {
                    "seq": 10_000_000 + i // len(background) + rate,
                    "ts": start + i / rate,
                    "co_ppm": 1.0,
                    "gas_lel": 0.0,
                }
            ),
        )
        for i in range(int(rate * seconds))
    ]
    publisher = threading.Thread(
        target=lambda: asyncio.run(publish_all(host="127.0.0.1", port=port, messages=load, rate=rate))
    )
    publisher.start()
    time.sleep(3)

    async def probe() -> None:
        async with connected("127.0.0.1", port, "guardian-probe") as session:
            for h in group:
                await asyncio.sleep(0.5)
                event = {"seq": 1, "ts": time.time(), "event": "alarm_co"}
                await session.publish(
                    f"guardian/t1/sensor/{h['sensors'][0]['id']}/event", msgspec.json.encode(event)
                )

    asyncio.run(probe())
    publisher.join()


if __name__ == "__main__":
    main()
