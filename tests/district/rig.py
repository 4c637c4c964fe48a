"""A district on this machine: a real 3-node NATS cluster with JetStream, a real InfluxDB, and gateway
instances as real processes (`guardian run --cluster`), so they can be SIGKILLed and SIGSTOPped."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats

from gateway.district.partitions import subject_of
from gateway.ops.nats_cluster import NatsCluster
from simulators import estate
from tests.support import ROOT, influx_query

SITES = [f"c{i}" for i in range(1, 7)]
PARTITIONS = 8
LEASE_TTL = 5.0


def write_registries(folder: Path, households: int = 4) -> list[str]:
    """Six small communities, one YAML each; returns the site ids."""
    folder.mkdir(parents=True, exist_ok=True)
    for site in SITES:
        reg = estate.small_estate(site=site, buildings=1, units=1, households_per_unit=households)
        (folder / f"{site}.yaml").write_text(estate.dump(reg))
    return SITES


@dataclass
class Instance:
    name: str
    cluster: NatsCluster
    registry: Path
    influx_port: int
    directory: Path
    proc: subprocess.Popen[bytes] | None = None
    extra: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    """More of `guardian run`'s arguments (`--role api` for an API replica)."""

    def env(self) -> dict[str, str]:
        import os

        env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDIAN_")}
        env.update(
            GUARDIAN_REGISTRY=str(self.registry),
            GUARDIAN_DATA_DIR=str(self.directory),
            GUARDIAN_INFLUX__URL=f"http://127.0.0.1:{self.influx_port}",
            GUARDIAN_CLUSTER__SERVERS=json.dumps(self.cluster.urls),
            GUARDIAN_CLUSTER__INSTANCE=self.name,
            GUARDIAN_CLUSTER__PARTITIONS=str(PARTITIONS),
            GUARDIAN_CLUSTER__LEASE_TTL=str(LEASE_TTL),
            GUARDIAN_CLUSTER__SNAPSHOT_SECONDS="3",
        )
        env.update(self.extra)
        return env

    @property
    def log(self) -> Path:
        return self.directory / "instance.log"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", *self.args],
            env=self.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        out.close()

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def status(inst: Instance) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "cluster", "status", "--json"],
        env=inst.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return list(json.loads(done.stdout))


def owners(inst: Instance) -> dict[int, str | None]:
    """Who owns what; empty while the cluster cannot answer (a new stream's election, a lost node)."""
    try:
        return {r["partition"]: r["owner"] for r in status(inst)}
    except AssertionError:
        return {}


def lag(rows: list[dict[str, Any]]) -> int | None:
    """The district's total lag, None while some partition's stream cannot say."""
    lags = [r["lag"] for r in rows]
    return None if None in lags else sum(lags)


def publish(urls: list[str], messages: list[dict[str, Any]], *, pace: float = 0.0) -> None:
    """Each message into the cluster as a device's MQTT publish lands (subject = topic with `.`), through
    JetStream's publish so the call returns only once the stream has it; retried across a node's loss."""

    async def go() -> None:
        nc = await nats.connect(servers=urls, max_reconnect_attempts=-1, reconnect_time_wait=0.5)
        js = nc.jetstream(timeout=5.0)
        try:
            for n, m in enumerate(messages):
                body = json.dumps(m["payload"]).encode()
                for attempt in range(240):  # up to 2 min: a lost node's streams elect new leaders
                    try:
                        await js.publish(subject_of(m["topic"]), body)
                        break
                    except Exception:
                        if attempt == 239:
                            raise
                        await asyncio.sleep(0.5)
                if pace and n % 50 == 49:
                    await asyncio.sleep(pace)
        finally:
            await nc.close()

    asyncio.run(go())


def stored(influx_port: int) -> dict[tuple[str, str], list[int]]:
    """(site, device) -> sorted stored seqs, duplicates kept (to be caught)."""
    series = influx_query(influx_port, 'SELECT "seq" FROM "raw"."sensor_reading" GROUP BY "site", "device"')
    return {(s["tags"]["site"], s["tags"]["device"]): sorted(int(v[1]) for v in s["values"]) for s in series}


def wait(predicate, timeout: float, what: str, diagnose=None) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.5)
    extra = f"\n{diagnose()}" if diagnose else ""
    raise AssertionError(f"timed out after {timeout} s: {what}{extra}")
