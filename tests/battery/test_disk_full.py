"""The spool's disk fills up: the gateway holds its acknowledgements, says so, and recovers losing nothing.

The gateway's data_dir (spool.sqlite3 and its WAL) is a 3 MB tmpfs; a filler file leaves it ~200 KB, then
20,000 readings (100 devices x 200) are published, far more than fits. Needs root (mount).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.ops import services
from simulators import estate
from tests.battery.common import Publisher, all_arrive, publish
from tests.integration.test_ingest import numbered
from tests.support import GatewayProcess, stored_count, wait_for

HEADROOM = 200 * 1024
"""Bytes left free on the spool's filesystem once the filler is written."""


@contextlib.contextmanager
def tmpfs(directory: Path, size: str) -> Iterator[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(directory: Path, leave: int) -> Path:
    """A file taking all but `leave` bytes of the filesystem."""
    stat = os.statvfs(directory)
    free = stat.f_bavail * stat.f_frsize
    assert free > leave, f"only {free} bytes free before the filler"
    filler = directory / "filler.bin"
    with filler.open("wb") as f:
        chunk = b"\xa5" * (1 << 16)
        remaining = free - leave
        while remaining > 0:
            remaining -= f.write(chunk[: min(len(chunk), remaining)])
    return filler


def readings(devices: list[str], seqs: range) -> list[tuple[str, bytes]]:
    return [
        m for m in numbered(devices, seqs.stop) if seqs.start <= int(m[1].split(b'"seq":')[1].split(b",")[0])
    ]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    assert os.geteuid() == 0, "this test mounts a tmpfs: run it as root"
    with tmpfs(tmp_path / "gw", "3m") as directory:
        yield directory


def _on_small_disk(
    broker: services.ChildServer, influx: services.ChildServer, registry: Path, disk: Path
) -> GatewayProcess:
    """The gateway with its data on the small disk; the alert snapshot every 10 min, so that only the spool
    meets the full disk."""
    return GatewayProcess.against(
        broker,
        influx,
        registry=registry,
        data_dir=disk,
        extra_env={"GUARDIAN_ALERTS__SNAPSHOT_SECONDS": "600"},
    )


def test_spool_disk_full_holds_acks_reports_and_recovers_exactly_once(
    tmp_path: Path,
    registry_file: Path,
    registry_dict: dict[str, Any],
    broker: services.ChildServer,
    influx: services.ChildServer,
    small_disk: Path,
) -> None:
    """1,000 readings before the disk fills, 20,000 after; the filler is deleted once the gateway has been
    stuck for 5 s and the tmpfs remounted at 64 MB. The alert snapshot is set to 10 min so that only the spool meets the full disk."""
    gw = _on_small_disk(broker, influx, registry_file, small_disk)
    gw.start()
    devices = estate.sensor_ids(registry_dict)
    before = readings(devices, range(10))
    after = readings(devices, range(10, 210))
    try:
        publish(broker, before)
        wait_for(lambda: stored_count(influx.port) >= len(before), 30, message="the first readings")
        filler = fill(small_disk, HEADROOM)

        publisher = Publisher(broker, after)
        publisher.start()
        publisher.finish(60)  # the broker accepted all of them (QoS 1), for the gateway's persistent session

        def failing() -> bool:
            return gw.metric("guardian_spool_write_failing") == 1

        wait_for(failing, 30, message="spool writes failing", diagnose=gw.log_tail)
        stuck_at = gw.metric("guardian_messages_received_total")
        stored_then = stored_count(influx.port)
        reports = []
        for _ in range(10):
            time.sleep(0.5)
            assert gw.proc is not None and gw.proc.poll() is None, f"the gateway died: {gw.log_tail()}"
            reports.append(gw.health())
        assert failing(), "the spool fault cleared by itself although the disk is still full"
        assert stored_then < len(before) + len(after), "everything fitted: the disk never filled"
        # nothing is committed, so nothing more is received, acknowledged or stored while the disk is full
        assert gw.metric("guardian_messages_received_total") == stuck_at
        assert stored_count(influx.port) == stored_then
        assert all(body["mqtt"]["ok"] for _, body in reports), f"the broker link dropped: {reports}"

        # Room again: the filler goes and the filesystem grows (the spool keeps rows for keep_hours, and 21,000
        # of them need more than the 3 MB).
        filler.unlink()
        subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
        all_arrive(gw, influx.port, before + after, 90, "every reading after the disk has room again")
        assert not failing()
        assert gw.proc is not None and gw.proc.poll() is None, "the gateway restarted or died"
        assert "Traceback" not in gw.log_tail()
    finally:
        gw.stop()


def test_spool_disk_full_is_reported_on_healthz(
    tmp_path: Path,
    registry_file: Path,
    registry_dict: dict[str, Any],
    broker: services.ChildServer,
    influx: services.ChildServer,
    small_disk: Path,
) -> None:
    """The same full disk (5,000 readings after the filler); /healthz must say the spool cannot commit."""
    gw = _on_small_disk(broker, influx, registry_file, small_disk)
    gw.start()
    try:
        fill(small_disk, HEADROOM)
        publish(broker, readings(estate.sensor_ids(registry_dict), range(50)))
        wait_for(lambda: gw.metric("guardian_spool_write_failing") == 1, 30, message="spool writes failing")
        status, body = gw.health()
        assert status == 503 and body["spool"].get("ok") is False, body
    finally:
        subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
        gw.stop()
