"""`guardian demo` run non-interactively for about a minute, as `make demo` runs it: real Mosquitto, InfluxDB,
the gateway and the live estate with incidents. Alarms must be raised and notifications delivered, here to
a real HTTP receiver configured as the control room's signed webhook."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from gateway import services
from gateway.notify.channels import webhook_signature
from tests.notify.receivers import Receiver

SECRET = "demo-hook-secret"


def test_demo_raises_alarms_and_delivers_notifications(tmp_path: Path) -> None:
    with Receiver() as hooks:
        env = {
            **os.environ,
            "GUARDIAN_NOTIFY__WEBHOOKS": json.dumps([f"{hooks.url}/control-room"]),
            "GUARDIAN_NOTIFY__WEBHOOK_SECRET": SECRET,
        }
        ports = [str(services.free_port()) for _ in range(3)]
        demo = subprocess.run(
            [sys.executable, "-m", "gateway", "demo", "--dir", str(tmp_path / "demo"), "--duration", "75",
             "--households", "60", "--incident-every", "12",
             "--mqtt-port", ports[0], "--influx-port", ports[1], "--http-port", ports[2]],
            env=env, capture_output=True, text=True, timeout=240, check=False,
        )  # fmt: skip
        received = list(hooks.requests)
    out = demo.stdout
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "Gas Guardian demo:" in out and "/app/?enroll=" in out
    assert "[2/5] provisioning device accounts" in demo.stderr and "demo ready" in demo.stderr
    assert f"http://127.0.0.1:{ports[2]}/app/" in out, "enrolment links must point at this demo's gateway"
    assert out.count("incident:") >= 4, out
    grafana = tmp_path / "demo" / "grafana"
    assert f"GF_PATHS_PROVISIONING={grafana}" in out
    assert f"url: http://127.0.0.1:{ports[1]}" in (grafana / "datasources" / "guardian.yaml").read_text()
    assert len(list((grafana / "dashboards" / "guardian").glob("*.json"))) == 6
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
