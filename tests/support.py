"""Helpers shared by the tests: a gateway in a child process, a fast publisher, InfluxDB queries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.config.settings import SECRETS_DIR_ENV
from gateway.influx.policies import measurement_policy
from gateway.ops import services
from gateway.ops.broker_access import SIMULATOR, Broker, BrokerAccess
from sensors.registry import SiteRegistry

ROOT = Path(__file__).resolve().parent.parent


@dataclass(kw_only=True)
class GatewayProcess:
    """`guardian run` as a real process, so it can be SIGKILLed."""

    registry: Path
    data_dir: Path
    mqtt_port: int
    influx_port: int
    http_port: int = field(default_factory=services.free_port)
    secrets_dir: Path | None = None
    """The broker account's secrets (BrokerAccess.secrets_dir), read as the gateway reads them in production."""
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def against(
        cls,
        broker: services.ChildServer,
        influx: services.ChildServer,
        *,
        registry: Path,
        data_dir: Path,
        extra_env: dict[str, str] | None = None,
    ) -> GatewayProcess:
        """A gateway for these servers, logging in with the broker account provisioned for it (if any)."""
        return cls(
            registry=registry,
            data_dir=data_dir,
            mqtt_port=broker.port,
            influx_port=influx.port,
            secrets_dir=broker.access.secrets_dir if broker.access is not None else None,
            extra_env=extra_env or {},
        )

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDIAN_")}
        env.update(
            GUARDIAN_REGISTRY=str(self.registry),
            GUARDIAN_DATA_DIR=str(self.data_dir),
            GUARDIAN_MQTT__HOST="127.0.0.1",
            GUARDIAN_MQTT__PORT=str(self.mqtt_port),
            GUARDIAN_INFLUX__URL=f"http://127.0.0.1:{self.influx_port}",
            GUARDIAN_INFLUX__DATABASE="guardian",
            GUARDIAN_HTTP__HOST="127.0.0.1",
            GUARDIAN_HTTP__PORT=str(self.http_port),
        )
        if self.secrets_dir is not None:
            env[SECRETS_DIR_ENV] = str(self.secrets_dir)
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 30.0) -> None:
        log = (self.data_dir.parent / "gateway.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "run"],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"gateway exited: {self.log_tail()}"
            status, body = self.health()
            if status in (200, 503) and body.get("mqtt", {}).get("ok"):
                return
            time.sleep(0.1)
        raise TimeoutError(f"gateway did not connect: {self.log_tail()}")

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/healthz", timeout=2) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())
        except OSError:
            return 0, {}

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=2) as r:
            return r.read().decode()

    def metric(self, name: str, labels: str = "") -> float:
        key = f"{name}{{{labels}}}" if labels else name
        for line in self.metrics().splitlines():
            if line.startswith(key + " "):
                return float(line.split()[-1])
        return 0.0

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self) -> str:
        path = self.data_dir.parent / "gateway.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def provisioned(directory: Path, registry: dict[str, Any]) -> BrokerAccess:
    """Broker accounts for every device of `registry`, the gateway, and a simulator speaking for all."""
    access = BrokerAccess(directory)
    access.provision([SiteRegistry.model_validate(registry)], Broker(), simulator=True)
    return access


def secured_broker(directory: Path, registry: dict[str, Any]) -> services.ChildServer:
    """Mosquitto as the demo and a site run it: no anonymous clients, per-device ACL."""
    return services.mosquitto(directory / "mosquitto", access=provisioned(directory / "access", registry))


def simulator_login(broker: services.ChildServer) -> tuple[str, str] | None:
    return broker.login(SIMULATOR)


def influx_query(
    port: int, q: str, db: str = "guardian", auth: tuple[str, str] | None = None
) -> list[dict[str, Any]]:
    params = {"db": db, "q": q}
    if auth is not None:
        params.update(u=auth[0], p=auth[1])
    url = f"http://127.0.0.1:{port}/query?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as r:
        result = json.loads(r.read())["results"][0]
    assert "error" not in result, result
    return result.get("series", [])


def influx_rows(port: int, q: str) -> list[dict[str, Any]]:
    """Every row of every series, as a dict of the series' tags and the row's columns."""
    return [
        {**s.get("tags", {}), **dict(zip(s["columns"], v, strict=True))}
        for s in influx_query(port, q)
        for v in s["values"]
    ]


def stored_count(
    port: int, measurement: str = "sensor_reading", auth: tuple[str, str] | None = None, where: str = ""
) -> int:
    rp = measurement_policy(measurement, "raw")
    condition = f" WHERE {where}" if where else ""
    series = influx_query(port, f'SELECT count("seq") FROM "{rp}"."{measurement}"{condition}', auth=auth)
    return int(series[0]["values"][0][1]) if series else 0


def stored_seqs(port: int) -> dict[str, list[int]]:
    """device -> sorted list of stored seq values (duplicates kept, to be caught)."""
    series = influx_query(port, 'SELECT "seq" FROM "sensor_reading" GROUP BY "device"')
    return {s["tags"]["device"]: sorted(int(v[1]) for v in s["values"]) for s in series}


def wait_for(
    predicate, timeout: float, interval: float = 0.2, message: str = "condition", diagnose=None
) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    extra = f"\n{diagnose()}" if diagnose is not None else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {message}{extra}")


def vm_export(port: int, match: str, start: float = 0.0) -> list[dict[str, Any]]:
    """Every stored sample of the series `match` selects, from VictoriaMetrics' /api/v1/export: one dict
    per series with `metric` (its labels), `values` and `timestamps` (ms), duplicates kept if stored."""
    params = urllib.parse.urlencode({"match[]": match, "start": f"{start:.3f}"})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/export?{params}", timeout=10) as r:
        return [json.loads(line) for line in r.read().decode().splitlines() if line.strip()]


def vm_query(port: int, path: str, **params: str) -> list[dict[str, Any]]:
    """A PromQL/MetricsQL query (`/api/v1/query` or `/api/v1/query_range`): its result's series."""
    url = f"http://127.0.0.1:{port}{path}?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result
