"""`guardian backup` of a running gateway, restored into a new folder and started there: the same households,
the same open alarm (in the store and in the rules' state), the same API signing key (kept in the outbox).
Also: the gateway tells a real NOTIFY_SOCKET it is ready and feeds the watchdog."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import httpx
import yaml

from gateway.cli import main
from gateway.store.db import HEAD
from simulators import scenarios as sc
from tests.gateway.http.api.rig import guardian
from tests.integration.test_alarms import publish
from tests.support import GatewayProcess, wait_for

PASSWORD = "a long enough password"


def _notify_listener(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    s.settimeout(10)
    return s


def in_process(monkeypatch, capsys, env: dict[str, str], *args: str) -> str:  # type: ignore[no-untyped-def]
    """`guardian …` in this process (a second of imports saved per command), with that environment."""
    with monkeypatch.context() as m:
        for k, v in env.items():
            if k.startswith("GUARDIAN_"):
                m.setenv(k, v)
        capsys.readouterr()
        assert main(list(args)) == 0, capsys.readouterr().err
        return capsys.readouterr().out


def _open_co(api: httpx.Client) -> list[dict]:  # type: ignore[type-arg]
    return api.get("/api/v1/alarms", params={"rule": "CO-1", "state": "open"}).json()["items"]


def test_backup_while_running_then_restore_and_start(tmp_path, broker, influx, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump(sc.registry()))
    notify = _notify_listener(tmp_path / "notify.sock")
    env = {
        "GUARDIAN_ALERTS__SNAPSHOT_SECONDS": "1",
        "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
        "WATCHDOG_USEC": "1500000",  # pings every 0.5 s
    }
    gw = GatewayProcess.against(broker, influx, registry=registry, data_dir=tmp_path / "gw", extra_env=env)
    gw.start()
    with contextlib.ExitStack() as stack:
        stack.callback(notify.close)
        stack.callback(gw.stop)
        (tmp_path / "pw").write_text(PASSWORD)
        guardian(
            gw.env(),
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
        first = notify.recv(4096).decode()
        assert first.startswith("READY=1\n"), first
        pings = [notify.recv(4096).decode() for _ in range(3)]
        assert all("WATCHDOG=1" in p for p in pings), pings
        base = f"http://127.0.0.1:{gw.http_port}"
        token = httpx.post(f"{base}/api/v1/auth/token", data={"username": "ops", "password": PASSWORD}).json()
        api = stack.enter_context(
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token['access_token']}"})
        )
        now = time.time()
        readings = sc.readings(site="t1", device="s-1", start=now - 120, end=now - 5, co=lambda t: 20.0)
        publish(broker, [*readings, sc.event("t1", "s-1", now, "alarm_co", seq=1000)])
        wait_for(lambda: len(_open_co(api)) == 1, 30, 0.3, "CO-1 open in the store", diagnose=gw.log_tail)
        (alarm,) = _open_co(api)
        household = api.get("/api/v1/sites/t1/households/b1-u1-101").json()
        time.sleep(1.5)  # a rule snapshot after the alarm (every second here)
        assert (tmp_path / "gw" / "alerts.snapshot").exists()

        started = time.monotonic()
        out = in_process(monkeypatch, capsys, gw.env(), "backup", str(tmp_path))  # while the gateway writes
        backup_seconds = time.monotonic() - started
        (archive,) = tmp_path.glob("guardian-backup-*.tar.gz")
        assert str(archive) in out and f"schema {HEAD}" in out, out
        gw.stop()
        # SIGTERM honoured though the notify socket's reader stopped reading long ago (sends never block)
        assert "gateway stopping" in gw.log_tail()

        restored = GatewayProcess.against(
            broker, influx, registry=registry, data_dir=tmp_path / "restored" / "gw"
        )
        out = in_process(
            monkeypatch,
            capsys,
            restored.env(),
            "restore",
            str(archive),
            "--data",
            str(tmp_path / "restored" / "gw"),
        )
        assert "restored" in out
        restored.start()
        stack.callback(restored.stop)
        base2 = f"http://127.0.0.1:{restored.http_port}"
        # the same signing key (from the outbox): the token issued before the backup is still good
        api2 = stack.enter_context(
            httpx.Client(base_url=base2, headers={"Authorization": f"Bearer {token['access_token']}"})
        )
        assert [a["alarm_id"] for a in _open_co(api2)] == [alarm["alarm_id"]]
        after = api2.get("/api/v1/sites/t1/households/b1-u1-101").json()
        (device,), (was,) = after["devices"], household["devices"]
        assert abs(was["live"]["co_ppm"] - 20.0) < 4  # the last reading, with its noise
        seen, seen_before = device["live"].pop("last_seen_s"), was["live"].pop("last_seen_s")
        assert device == was and seen >= seen_before  # the rules' last reading, restored from the snapshot
        assert "alert state rebuilt" not in restored.log_tail()  # the snapshot loaded: no replay needed
        # the rules remember the alarm is standing: the detector's next alarm is the same alarm, not a new one
        publish(broker, [sc.event("t1", "s-1", time.time(), "alarm_co", seq=1001)])
        time.sleep(2)
        assert [a["alarm_id"] for a in _open_co(api2)] == [alarm["alarm_id"]]
    assert backup_seconds < 10
