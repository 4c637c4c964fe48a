"""`guardian demo` run non-interactively for about a minute, as `make demo` runs it: real Mosquitto, InfluxDB,
the gateway and the live estate with incidents. Alarms must be raised and notifications delivered, here to
a real HTTP receiver configured as the control room's signed webhook."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from dashboards.generate import render
from gateway.notify.channels import webhook_signature
from gateway.ops import services
from tests.gateway.notify.receivers import Receiver
from tests.support import wait_for

SECRET = "demo-hook-secret"


def _end(demo: subprocess.Popen[str]) -> None:
    if demo.poll() is None:
        demo.kill()
        demo.wait()
    for pipe in (demo.stdout, demo.stderr):
        if pipe is not None:
            pipe.close()


def test_demo_raises_alarms_and_delivers_notifications(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with Receiver() as hooks:
        env = {
            **os.environ,
            "GUARDIAN_NOTIFY__WEBHOOKS": json.dumps([f"{hooks.url}/control-room"]),
            "GUARDIAN_NOTIFY__WEBHOOK_SECRET": SECRET,
        }
        ports = [str(services.free_port()) for _ in range(4)]
        demo = subprocess.Popen(
            [sys.executable, "-m", "gateway", "demo", "--dir", str(tmp_path / "demo"), "--duration", "75",
             "--households", "60", "--incident-every", "12",
             "--mqtt-port", ports[0], "--influx-port", ports[1], "--http-port", ports[2],
             "--inbox-port", ports[3]],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        request.addfinalizer(lambda: _end(demo))  # also when an assertion below fails mid-demo
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(demo.stdout or []), daemon=True)
        reader.start()
        errors = threading.Thread(target=lambda: setattr(demo, "err", (demo.stderr or io.StringIO()).read()))
        errors.start()
        wait_for(
            lambda: any("Press Ctrl-C" in line for line in lines) or demo.poll() is not None,
            120,
            0.2,
            "the banner",
        )
        sign_ins = dict(
            re.findall(
                r"^  (?:resident|grid officer|property staff) +(demo-\w+) / (\S+)$", "".join(lines), re.M
            )
        )
        assert set(sign_ins) == {"demo-resident", "demo-officer", "demo-property"}, "".join(lines)
        base = f"http://127.0.0.1:{ports[2]}"

        def serving() -> bool:
            try:
                return httpx.get(f"{base}/readyz", timeout=2).status_code in (200, 503)
            except httpx.HTTPError:
                return False

        wait_for(serving, 60, 0.2, "the demo's gateway answering")
        tokens = {}
        for user, password in sign_ins.items():
            r = httpx.post(
                f"{base}/api/v1/auth/token", data={"username": user, "password": password}, timeout=10
            )
            assert r.status_code == 200, r.text
            tokens[user] = r.json()["access_token"]
        seen: list[int] = []

        def control_room_sees_alarms() -> bool:
            r = httpx.get(
                f"{base}/api/v1/alarms", headers={"Authorization": f"Bearer {tokens['demo-property']}"}
            )
            seen.append(r.json()["total"])
            return seen[-1] > 0

        wait_for(control_room_sees_alarms, 70, 1.0, "an alarm in the control room's API")
        assert httpx.get(f"{base}/console/").status_code == 200
        inbox = f"http://127.0.0.1:{ports[3]}"
        wait_for(lambda: bool(httpx.get(f"{inbox}/messages.json").json()), 60, 1.0, "a person's inbox")
        staff = {"Authorization": f"Bearer {tokens['demo-property']}"}
        alarms = httpx.get(f"{base}/api/v1/alarms", headers=staff).json()["items"]
        arrived = httpx.get(f"{inbox}/messages.json").json()
        # unauthenticated, the demo's InfluxDB answers nothing
        bare = httpx.get(f"http://127.0.0.1:{ports[1]}/query", params={"q": "SHOW DATABASES"})
        assert bare.status_code == 401, bare.text
        # Grafana's and the report's user reads and may not write; the gateway writes as its own user
        users = tmp_path / "demo" / "influxdb"
        reader_login = (
            "guardian-reader",
            (users / "accounts" / "guardian-reader.password").read_text().strip(),
        )
        influx_url = f"http://127.0.0.1:{ports[1]}"
        forged = httpx.post(
            f"{influx_url}/write",
            params={"db": "guardian"},
            content=b"sensor_reading,device=x co=1",
            auth=reader_login,
        )
        assert forged.status_code == 403, forged.text
        read = httpx.get(
            f"{influx_url}/query", params={"db": "guardian", "q": "SHOW MEASUREMENTS"}, auth=reader_login
        )
        assert read.status_code == 200 and "sensor_reading" in read.text, read.text
        assert (users / "secrets" / "influx__username").read_text().strip() == "guardian-gateway"
        demo.wait(180)
        reader.join(10)
        errors.join(10)
        received = list(hooks.requests)
    out = "".join(lines)
    stderr = getattr(demo, "err", "")
    assert f"http://127.0.0.1:{ports[3]}/" in out, "the banner links to the inbox"
    people = {m["person"] for m in arrived}
    assert people and all(m["title"] for m in arrived), arrived[:3]
    told = [a for a in alarms if a["notified"]]
    assert told, alarms[:3]
    for a in alarms:  # notified only what reached an address; never more than the rules chose
        assert set(a["notified"]) <= set(a["planned"]), a
    assert demo.returncode == 0, stderr[-3000:]
    assert "Gas Guardian demo:" in out and "/app/?enroll=" in out
    assert "[2/5] provisioning device accounts" in stderr and "demo ready" in stderr
    assert f"http://127.0.0.1:{ports[2]}/app/" in out, "enrolment links must point at this demo's gateway"
    assert out.count("incident:") >= 4, out
    grafana = tmp_path / "demo" / "grafana"
    assert f"GF_PATHS_PROVISIONING={grafana}" in out
    source = (grafana / "datasources" / "guardian.yaml").read_text()
    assert f"url: http://127.0.0.1:{ports[1]}" in source and "\n    user: guardian-reader\n" in source
    boards = {f"dashboards/guardian/{p.name}" for p in (grafana / "dashboards" / "guardian").glob("*.json")}
    assert boards == {name for name in render() if name.startswith("dashboards/guardian/")}  # every board
    conf = (tmp_path / "demo" / "mosquitto" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "use_username_as_clientid true" in conf
    assert len(list((tmp_path / "demo" / "access" / "devices" / "demo").glob("*.json"))) > 60

    stored = re.search(r"(\d+) readings, (\d+) alarms raised, (\d+) notifications sent", out)
    assert stored, out[-2000:]
    readings, raised, sent = map(int, stored.groups())
    assert readings > 30 and raised >= 2 and sent >= 2, stored.group(0)

    truth = [json.loads(line) for line in (tmp_path / "demo" / "truth.jsonl").read_text().splitlines()]
    assert {"DR-1", "GAS-1"} <= {t["rule"] for t in truth}, "every incident leaves its ground truth"

    hooked = [json.loads(r.body) for r in received if r.path == "/control-room"]
    rules = {h.get("rule") for h in hooked}
    assert "DR-1" in rules, f"the forced door never reached the control room: {rules}"
    assert rules & {"GAS-1", "GAS-2", "GAS-3"}, f"the gas leak never reached the control room: {rules}"
    for r in received:
        stamp = r.headers["x-guardian-timestamp"]
        assert r.headers["x-guardian-signature"] == webhook_signature(SECRET.encode(), stamp, r.body)
