"""Notifications live: a device alarm over real MQTT reaches people's channels, survives a SIGKILL mid-retry,
is published for local sirens, and its delivery states land in InfluxDB."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import yaml

from gateway.ops.broker_access import MONITOR
from simulators import scenarios as sc
from tests.gateway.notify.receivers import Fault, Receiver
from tests.gateway.notify.rig import registry
from tests.integration.test_alarms import publish
from tests.support import GatewayProcess, influx_query, wait_for


def rows(port: int, q: str) -> list[dict]:
    series = influx_query(port, q)
    if not series:
        return []
    cols = series[0]["columns"]
    return [dict(zip(cols, v, strict=True)) for v in series[0]["values"]]


def test_alarm_reaches_every_channel_across_a_sigkill_mid_retry(tmp_path: Path, broker, influx) -> None:  # type: ignore[no-untyped-def]
    with Receiver() as rx:
        path = tmp_path / "registry.yaml"
        path.write_text(yaml.safe_dump(registry(rx)))
        gw = GatewayProcess.against(
            broker,
            influx,
            registry=path,
            data_dir=tmp_path / "gw",
            extra_env={
                "GUARDIAN_NOTIFY__WEBHOOKS": json.dumps([f"{rx.url}/hook"]),
                "GUARDIAN_NOTIFY__WEBHOOK_SECRET": "integration-hook-secret",
                "GUARDIAN_NOTIFY__BACKOFF_BASE": "0.5",
                "GUARDIAN_NOTIFY__BACKOFF_MAX": "1",
            },
        )
        # The resident's channel is down when the alarm comes.
        rx.script = {"/apprise/p-1": [Fault(500)] * 1000}
        sirens = subprocess.Popen(
            [
                "mosquitto_sub",
                "-h",
                "127.0.0.1",
                "-p",
                str(broker.port),
                "-u",
                MONITOR,
                "-P",
                broker.login(MONITOR)[1],
                "-t",
                "guardian/+/alarm/#",
                "-C",
                "1",
                "-W",
                "60",
            ],
            stdout=subprocess.PIPE,
        )
        gw.start()
        try:
            publish(broker, [sc.event("t1", "s-1", time.time(), "alarm_co")])
            wait_for(lambda: len(rx.at("/apprise/p-1")) >= 2, 30, 0.2, "retries to the resident")
            wait_for(
                lambda: rx.at("/bot/c-1", 200) and rx.at("/bot/pm", 200) and rx.at("/hook", 200),
                30,
                0.2,
                "others",
            )
            gw.kill()  # mid-retry: the resident has not been reached
            assert not rx.at("/apprise/p-1", 200)
            rx.script = {}
            gw.start()
            wait_for(lambda: rx.at("/apprise/p-1", 200), 30, 0.2, "the resident reached after the restart")
            time.sleep(2)
            assert len(rx.at("/apprise/p-1", 200)) == 1
            for prefix in ("/bot/c-1", "/bot/pm", "/hook"):
                assert 1 <= len(rx.at(prefix, 200)) <= 2, prefix  # at most one duplicate for the one SIGKILL
            message = json.loads(rx.at("/apprise/p-1", 200)[0].body)["message"]
            assert "一氧化碳" in message and "/ack/" in message

            out, _ = sirens.communicate(timeout=60)
            first = json.loads(out.splitlines()[0])
            assert first["rule"] == "CO-1" and first["transition"] == "raised" and first["severity"] == "P1"

            def delivered() -> list[dict]:
                return rows(
                    influx.port, 'SELECT * FROM "events"."notification" WHERE "state" = \'delivered\''
                )

            wait_for(
                lambda: any(r["channel"] == "apprise" and r["recipient"] == "p-1" for r in delivered()),
                30,
                0.5,
                "stored",
            )
            channels = {(r["recipient"], r["channel"]) for r in delivered()}
            assert {
                ("p-1", "apprise"),
                ("c-1", "bot"),
                ("pm-1", "bot"),
                ("webhook", "webhook"),
                ("mqtt", "mqtt"),
            } <= channels
            retries = rows(influx.port, 'SELECT * FROM "events"."notification" WHERE "state" = \'retry\'')
            assert any(r["recipient"] == "p-1" and r["channel"] == "apprise" and r["error"] for r in retries)
        finally:
            sirens.kill()
            gw.stop()
