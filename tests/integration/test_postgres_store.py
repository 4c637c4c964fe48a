"""The whole gateway on PostgreSQL (a district's store): registry imported at start, an account made with
`guardian accounts`, an alarm raised from MQTT traffic, listed and acknowledged through the API."""

from __future__ import annotations

import contextlib
import time

import httpx
import yaml

from gateway.ops import services
from simulators import scenarios as sc
from tests.gateway.http.api.rig import guardian
from tests.integration.test_alarms import publish
from tests.support import GatewayProcess, wait_for


def test_gateway_runs_on_postgresql(tmp_path, broker, influx) -> None:  # type: ignore[no-untyped-def]
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump(sc.registry()))
    with services.postgres() as pg:
        gw = GatewayProcess.against(
            broker,
            influx,
            registry=registry,
            data_dir=tmp_path / "gw",
            extra_env={"GUARDIAN_STORE__URL": services.postgres_url(pg)},
        )
        env = gw.env()
        assert "site t1: building: +1" in guardian(env, "registry", "import", str(registry))
        (tmp_path / "pw").write_text("a long enough password")
        guardian(
            env,
            "accounts",
            "add",
            "ops",
            "--role",
            "property",
            "--site",
            "t1",
            "--password-file",
            str(tmp_path / "pw"),
        )
        gw.start()
        with contextlib.ExitStack() as stack:
            stack.callback(gw.stop)
            base = f"http://127.0.0.1:{gw.http_port}"
            token = httpx.post(
                f"{base}/api/v1/auth/token", data={"username": "ops", "password": "a long enough password"}
            ).json()["access_token"]
            api = stack.enter_context(
                httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
            )
            publish(broker, [sc.event("t1", "s-1", time.time(), "alarm_co")])
            wait_for(
                lambda: api.get("/api/v1/alarms?rule=CO-1").json()["total"] == 1,
                30,
                0.3,
                "the alarm in PostgreSQL",
            )
            (alarm,) = api.get("/api/v1/alarms?rule=CO-1").json()["items"]
            # this registry has no addresses: the CO alarm reached nobody, and a standing alarm says so
            unreached = api.get("/api/v1/alarms?rule=SYS-UNREACHED").json()["items"]
            assert [u["subject"] for u in unreached] == [alarm["alarm_id"]] and alarm["notified"] == []
            r = api.post(f"/api/v1/alarms/{alarm['alarm_id']}/acknowledge")
            assert r.status_code == 200 and r.json()["acked_by"] == "account:ops"
            assert r.json()["state"] == "acknowledged"
            assert api.get("/api/v1/sites/t1/households/b1-u1-101").json()["devices"][0]["id"] == "s-1"
