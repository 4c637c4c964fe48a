"""Replay over sparse, realistic traffic: `guardian evaluate`'s normal winter month and its scenario library.

A month of 100 households is ~1.2 million messages spread over 2.6 million seconds: about one message per
1 s batch, so what is measured is the rule core's cost per small batch, not per reading (alert_core.py
measures that on 10k-reading batches).
"""

from __future__ import annotations

import time

from simulators.evaluate import run_month, run_scenario
from simulators.library import SCENARIOS


def main() -> None:
    started = time.perf_counter()
    for sc in SCENARIOS.values():
        run_scenario(sc)
    took = time.perf_counter() - started
    print(f"scenario library: {len(SCENARIOS)} scenarios through replay (1 s batches) in {took:.1f} s")
    started = time.perf_counter()
    month = run_month(households=100, days=30)
    took = time.perf_counter() - started
    print(
        f"normal winter month, 100 households (30 s batches): {month.messages:,} messages generated and "
        f"replayed in {took:.1f} s = {month.messages / took:,.0f} msg/s"
    )


if __name__ == "__main__":
    main()
