"""Ingest of two versions of the code, alternately, on one machine: `python -m benchmarks.ab REV [RUNS]`.

A shared machine's speed moves by 20-30 % within the hour, so a figure from before a change and one from
after it, taken at different times, say little. This runs `benchmarks.run.ingest` (the same registry,
broker and database each time, ROUNDS rounds of BENCH_MESSAGES, the broker's ceiling just before each
round) for REV (checked out in a temporary git worktree) and for the working tree, alternating, and prints
each run's median rate, its ratio to the ceiling, CPU per message and how many were lost.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ONE_RUN = """
import json, statistics, tempfile
from pathlib import Path
from benchmarks import run
from gateway.ops import services
from simulators import estate
tmp = Path(tempfile.mkdtemp(prefix="guardian-ab-"))
registry = estate.small_estate(site="t1", buildings=100, units=10, households_per_unit=100)
(tmp / "registry.yaml").write_text(estate.dump(registry))
devices = estate.sensor_ids(registry)[:5000]
with services.mosquitto(tmp / "mq") as broker, services.influxd(tmp / "ix") as influx:
    services.wait_influx_ready(influx.port)
    r = run.ingest(tmp / "gw", tmp / "registry.yaml", broker, influx, devices, ceiling=True)
print(json.dumps({"rate": statistics.median(r.rates), "ratio": statistics.median(r.ratios()),
                  "ceiling": statistics.median(r.ceilings), "cpu_us": r.cpu / r.sent * 1e6,
                  "sent": r.sent, "lost": r.sent - r.stored}))
"""


def measure(tree: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", ONE_RUN], cwd=tree, capture_output=True, text=True, check=True, timeout=3600
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    rev = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    with tempfile.TemporaryDirectory(prefix="guardian-before-") as before:
        subprocess.run(["git", "worktree", "add", "--detach", before, rev], cwd=ROOT, check=True)
        try:
            for i in range(runs):
                for name, tree in ((f"before ({rev})", Path(before)), ("after (working tree)", ROOT)):
                    m = measure(tree)
                    print(
                        f"run {i + 1} {name}: {m['rate']:,.0f} msg/s, {m['ratio']:.2f} of a "
                        f"{m['ceiling']:,.0f} msg/s ceiling, {m['cpu_us']:.1f} us/msg, "
                        f"{m['sent']:,} sent, {m['lost']} lost",
                        flush=True,
                    )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", before], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
