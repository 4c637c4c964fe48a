"""The running gateway tells a resident of her work order: filed in the API, claimed and resolved by staff,
her apprise address (a real local receiver) gets both notices, Chinese first; after a restart
(the watcher hands the last hour's notices over again) she gets neither twice."""

from __future__ import annotations

import datetime as dt
import json
import time
import zoneinfo
from pathlib import Path
from typing import Any

import httpx

from gateway.ops import services
from simulators import estate
from tests.gateway.http.api.rig import PASSWORD, guardian
from tests.gateway.notify.receivers import Receiver
from tests.support import GatewayProcess, secured_broker, wait_for

ACCOUNTS = {"res1": ("resident", "t1", "p-00001"), "admin": ("admin", None, None)}
"""The admin accepts, dispatches, claims and resolves (one account less to make: each is a process)."""


def _registry(rx: Receiver) -> dict[str, Any]:
    reg = estate.small_estate(site="t1", buildings=1, units=1, households_per_unit=1)
    home = reg["buildings"][0]["units"][0]["households"][0]
    home["residents"][0]["notify"] = [f"json://127.0.0.1:{rx.port}/apprise/p-00001"]
    return reg


def _tokens(base: str) -> dict[str, str]:
    out = {}
    for username in ACCOUNTS:
        r = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        out[username] = r.json()["access_token"]
    return out


def test_her_order_claimed_and_resolved_reaches_her_once_through_a_restart(tmp_path: Path) -> None:
    with Receiver() as rx:
        reg = _registry(rx)
        registries = tmp_path / "registries"
        registries.mkdir()
        (registries / "t1.yaml").write_text(estate.dump(reg))
        with secured_broker(tmp_path, reg) as broker, services.influxd(tmp_path / "influxdb") as influx:
            # quiet hours would hold her news (a P3 at home) till morning: an hour far from now here
            hour = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")).hour
            quiet = f"{(hour + 12) % 24:02d}:00-{(hour + 13) % 24:02d}:00"
            gw = GatewayProcess.against(
                broker, influx, registry=registries, data_dir=tmp_path / "gw",
                extra_env={"GUARDIAN_NOTIFY__QUIET_HOURS": quiet},
            )  # fmt: skip
            services.wait_influx_ready(influx.port)
            env = gw.env()
            guardian(env, "registry", "import", str(registries))
            (tmp_path / "password").write_text(PASSWORD + "\n")
            for username, (role, home, person) in ACCOUNTS.items():
                where = ["--site", home, "--person", person] if home and person else []
                guardian(env, "accounts", "add", username, "--role", role, *where,
                         "--password-file", str(tmp_path / "password"))  # fmt: skip
            gw.start()
            try:
                base = f"http://127.0.0.1:{gw.http_port}"
                tokens = _tokens(base)

                def post(who: str, path: str, **body: Any) -> dict[str, Any]:
                    r = httpx.post(
                        f"{base}{path}", json=body, headers={"Authorization": f"Bearer {tokens[who]}"}
                    )
                    assert r.status_code in (200, 201), r.text
                    return r.json()  # type: ignore[no-any-return]

                orders = "/api/v1/work-orders"
                o = post(
                    "res1", orders, category="door_fault", description="门禁刷卡没反应", household="b1-u1-101"
                )
                post("admin", f"{orders}/{o['id']}/accept")
                post("admin", f"{orders}/{o['id']}/dispatch", assignee="property")
                post("admin", f"{orders}/{o['id']}/claim")
                post("admin", f"{orders}/{o['id']}/resolve", note="更换了读卡器")

                def hers() -> list[str]:
                    return [json.loads(q.body)["message"] for q in rx.at("/apprise/p-00001", 200)]

                wait_for(lambda: len(hers()) == 2, 20, 0.2, "her two notices", diagnose=gw.log_tail)
                claimed, resolved = hers()
                assert claimed.startswith("您的门禁故障报修已被接单") and "door fault" in claimed
                assert resolved.startswith("您的门禁故障报修已处理完毕") and "更换了读卡器" in resolved
                assert "door_fault" not in claimed + resolved

                gw.stop()
                gw.start()
                tokens = _tokens(base)  # up again, the watcher loaded: nothing more for her
                time.sleep(2.0)
                assert len(hers()) == 2
                r = httpx.get(
                    f"{base}{orders}/{o['id']}", headers={"Authorization": f"Bearer {tokens['admin']}"}
                )
                assert [e["action"] for e in r.json()["events"]] == [
                    "submit", "accept", "dispatch", "claim", "resolve"
                ]  # fmt: skip
            finally:
                gw.stop()
