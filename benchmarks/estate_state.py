"""What the once-a-minute estate state costs the gateway's event loop at 100,000 households
(alerts/status.py + gateway/pipeline/status_lines.py; docs/storage.md)."""

from __future__ import annotations

import time

from alerts.engine import Engine
from alerts.site import compile_site_model
from alerts.status import estate_status
from gateway.pipeline.status_lines import StatusEncoder
from sensors.index import compile_index
from sensors.registry import SiteRegistry
from simulators import estate


def main() -> None:
    registry = SiteRegistry.model_validate(
        estate.small_estate(site="t1", buildings=100, units=10, households_per_unit=100)
    )
    index = compile_index([registry])
    engine = Engine(compile_site_model([registry], index))
    started = time.perf_counter()
    encoder = StatusEncoder(engine.model)
    build = time.perf_counter() - started
    # a realistic bad day: 1 % of detectors faulty, so their households are written too
    engine.core.health.fault[::100] = True
    compute, encode, lines = [], [], 0
    for _ in range(5):
        t0 = time.perf_counter()
        status = estate_status(engine, time.time())
        t1 = time.perf_counter()
        lines = len(encoder.encode(status))
        compute.append(t1 - t0)
        encode.append(time.perf_counter() - t1)
    print(
        f"estate state, {len(index):,} devices: encoder built in {build * 1000:.0f} ms; each snapshot "
        f"{min(compute) * 1000:.0f}-{max(compute) * 1000:.0f} ms to compute, "
        f"{min(encode) * 1000:.0f}-{max(encode) * 1000:.0f} ms to encode, {lines:,} points"
    )


if __name__ == "__main__":
    main()
