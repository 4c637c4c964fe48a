"""`guardian demo --district` comes up whole on this machine: three NATS nodes, three instances sharing all
32 partitions, the communities' devices publishing over MQTT 3.1.1, and the status printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def test_the_district_demo_shares_every_partition_among_three_instances(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "demo", "--district", "--dir", str(tmp_path), "--duration", "35"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summaries = re.findall(r"(\d+) partitions, (\d+) instances, (\d+) unowned, lag (\d+)", done.stdout)
    assert summaries, done.stdout[-3000:]
    assert summaries[-1][:3] == ("32", "3", "0"), done.stdout[-3000:]
    rows = [line.split() for line in done.stdout.splitlines() if re.match(r"^\s+\d+\s+gw-\d", line)]
    last = rows[-32:]
    assert {r[1] for r in last} == {"gw-1", "gw-2", "gw-3"}
    assert sum(int(r[3]) for r in last) > 0, "the communities' devices published nothing into the streams"
