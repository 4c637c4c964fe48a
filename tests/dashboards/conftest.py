"""Two hours of a simulated community, published through the real pipeline into a real InfluxDB, shared by
the dashboard and report tests (one seeding per test run: it takes about half a minute).

Normal life, a gas leak, CO building up and hushed, a forced door and a tampered detector are published over
a real Mosquitto to a real gateway, which stores readings, alarms, notifications (one recipient unreachable)
and the estate's state. Someone acknowledges a P2 alarm through the signed link they were sent; the work
orders the alarms opened are accepted, dispatched, claimed and resolved through the API.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from gateway.ops import services
from simulators import estate, incidents
from simulators.fleet import publish_all
from simulators.world import World
from tests.gateway.http.api.rig import guardian
from tests.gateway.notify.receivers import Receiver
from tests.support import GatewayProcess, influx_rows, secured_broker, simulator_login, stored_count, wait_for

HOURS = 2


@pytest.fixture(scope="package")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("seeded")
    registry = estate.small_estate(site="t1", buildings=2, units=2, households_per_unit=3)
    with (
        secured_broker(tmp, registry) as broker,
        services.influxd(tmp / "influxdb") as influx,
        Receiver() as hooks,
    ):
        services.wait_influx_ready(influx.port)
        registry["grids"][0]["officers"][0]["notify"] = [f"json://127.0.0.1:{hooks.port}/officer"]
        registry["property"][0]["notify"] = [f"json://127.0.0.1:{services.free_port()}/closed"]
        for b in registry["buildings"]:
            for u in b["units"]:
                for h in u["households"]:
                    h["contacts"] = [
                        {"id": f"c-{h['id']}", "notify": [f"json://127.0.0.1:{hooks.port}/family"]}
                    ]
                    for r in h["residents"]:
                        r["notify"] = [f"json://127.0.0.1:{hooks.port}/resident"]
                    for sensor in h["sensors"]:
                        sensor["power"] = "battery"  # batteries report their charge; mains detectors do not
        path = tmp / "registry.yaml"
        path.write_text(estate.dump(registry))
        gw = GatewayProcess.against(
            broker,
            influx,
            registry=path,
            data_dir=tmp / "gw",
            extra_env={
                "GUARDIAN_INGEST__MAX_SKEW": "1e9",  # two hours of recorded device time
                "GUARDIAN_ALERTS__STATUS_SECONDS": "2",
                "GUARDIAN_ALERTS__STATS_SECONDS": "1",
                "GUARDIAN_INFLUX__BACKFILL_SECONDS": "1",
                "GUARDIAN_NOTIFY__MAX_ATTEMPTS": "2",
                "GUARDIAN_NOTIFY__BACKOFF_BASE": "0.2",
            },
        )
        now = time.time()
        start = now - HOURS * 3600
        world = World(registry, start, seed=3, mains_heartbeat=60.0)
        rng = np.random.default_rng(5)
        incidents.gas_leak(world, start + 1800, rng)
        incidents.co_build_up(world, start + 3000, rng)
        incidents.forced_door(world, start + 4200, rng)
        hushed = next(d for d in world.detectors if any(p.start >= start + 3000 for p in d.co))
        hushed.events.append((start + 3000 + 900, "hush"))
        tampered = next(d for d in world.detectors if d is not hushed)
        tampered.events.append((start + 5400, "tamper"))
        # residents' passages follow the clock (few at 3 a.m.): every door gets some, whenever the test runs
        for door in world.doors.values():
            for minutes in (20, 65, 110):
                door.passage(start + minutes * 60, "p-00001", "out" if minutes % 2 else "in", rng)
        messages = world.window(start, now)
        gw.start()
        try:
            asyncio.run(
                publish_all(
                    host="127.0.0.1",
                    port=broker.port,
                    login=simulator_login(broker),
                    messages=[(t, p) for _, t, p in messages],
                )
            )
            readings = sum(1 for _, t, _ in messages if t.endswith("/telemetry"))
            wait_for(lambda: stored_count(influx.port) >= readings, 120, 0.5, "readings stored")
            # someone acknowledges a P2 alarm through the link in their message
            link = wait_for_value(
                lambda: _ack_link(hooks, "/ P2 "),
                60,
                "a P2 alarm sent with its acknowledgement link",
                lambda: [(r.path, r.status, r.body[:300]) for r in hooks.requests][:8],
            )
            request = urllib.request.Request(
                f"http://127.0.0.1:{gw.http_port}/api/v1/ack/{link}", method="POST"
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.status == 200
            wait_for(
                lambda: influx_rows(
                    influx.port, 'SELECT * FROM "events"."notification" WHERE "state" = \'failed\''
                ),
                90,
                0.5,
                "a failed delivery (the unreachable control room)",
            )
            wait_for(
                lambda: influx_rows(
                    influx.port, 'SELECT * FROM "h1"."door_activity" WHERE "event" = \'access_granted\''
                ),
                60,
                0.5,
                "1-hour series",
            )
            wait_for(
                lambda: influx_rows(
                    influx.port,
                    'SELECT * FROM "events"."alarm" WHERE "transition" = \'acknowledged\' AND "severity" = \'P2\'',
                ),
                30,
                0.5,
                "the acknowledgement stored",
            )
            work_the_orders(gw, tmp)
            # the gateway's own metrics over at least three 10 s intervals, and a state after the acknowledgement
            wait_for(
                lambda: (
                    len(
                        influx_rows(
                            influx.port, 'SELECT "value" FROM "gateway" WHERE "metric" = \'spool_depth\''
                        )
                    )
                    >= 35
                ),
                60,
                0.5,
                "35 s of gateway metrics",
            )
            yield {
                "influx": influx.port,
                "from": start - 600,
                "to": time.time() + 60,
                "household": tampered.id and _household_of(registry, tampered.id),
                "registry": registry,
                "registry_path": path,
                "gas_leak_at": start + 1800,
                "tampered_at": start + 5400,
            }
        finally:
            gw.stop()


def work_the_orders(gw: GatewayProcess, tmp: Path) -> None:
    """The orders the alarms opened, worked through the API as the community and the property would: the
    officer accepts and dispatches what waits for him, the property claims and resolves each."""
    env = gw.env()
    password = tmp / "password"
    password.write_text("correct horse battery\n")
    for user, role, person in (("off", "officer", "o-1"), ("pm", "property", "pm-1")):
        args = ["accounts", "add", user, "--role", role, "--site", "t1", "--person", person]
        guardian(env, *args, "--password-file", str(password))
    base = f"http://127.0.0.1:{gw.http_port}"
    tokens = {}
    for user in ("off", "pm"):
        r = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": user, "password": "correct horse battery"}
        )
        assert r.status_code == 200, r.text
        tokens[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def open_orders() -> list[dict[str, Any]]:
        r = httpx.get(f"{base}/api/v1/work-orders", params={"open": "true"}, headers=tokens["pm"])
        return list(r.json()["items"])

    wait_for(
        lambda: any(o["category"] == "detector_fault" for o in open_orders()), 60, 0.5, "the tamper's order"
    )

    def act(user: str, order: dict[str, Any], action: str, **body: Any) -> None:
        r = httpx.post(f"{base}/api/v1/work-orders/{order['id']}/{action}", json=body, headers=tokens[user])
        assert r.status_code == 200, (action, r.text)

    orders = open_orders()
    for o in orders:
        if o["state"] == "submitted":
            act("off", o, "accept")
            act("off", o, "dispatch", assignee="property")
        act("pm", o, "claim")
        act("pm", o, "resolve", note="checked and fixed")
    wait_for(
        lambda: (
            len(
                influx_rows(
                    gw.influx_port,
                    'SELECT "resolve_s" FROM "events"."work_order" WHERE "action" = \'resolve\'',
                )
            )
            >= len(orders)
        ),
        60,
        0.5,
        "the orders' resolutions stored",
    )


def wait_for_value(get: Any, timeout: float, message: str, diagnose: Any = None) -> Any:
    box: list[Any] = []

    def ready() -> bool:
        value = get()
        if value:
            box.append(value)
        return bool(value)

    wait_for(ready, timeout, 0.5, message, diagnose)
    return box[0]


def _ack_link(hooks: Receiver, title: str) -> str | None:
    for r in hooks.at("/", 200):
        body = json.loads(r.body)
        text = f"{body.get('title', '')} {body.get('message', '')}"
        if title in text and "/ack/" in text:
            return re.search(r"/ack/([A-Za-z0-9_.\-]+)", text).group(1)  # type: ignore[union-attr]
    return None


def _household_of(registry: dict[str, Any], device: str) -> str:
    for b in registry["buildings"]:
        for u in b["units"]:
            for h in u["households"]:
                if any(s["id"] == device for s in h["sensors"]):
                    return str(h["id"])
    raise KeyError(device)
