"""The gateway's own Prometheus metrics, sampled into InfluxDB (measurement `gateway`).

Grid officers' Grafana reads InfluxDB only; sampling the metrics there gives its Gateway dashboard (ingest
rate, rejections by reason, spool depth, write latency, notification outbox) without a Prometheus server.
Every counter and gauge becomes one series, tagged with its labels; histograms keep `_sum` and `_count`,
so a mean latency is one division in InfluxQL.
"""

from __future__ import annotations

import socket

from prometheus_client import CollectorRegistry

from gateway.lineprotocol import series_key


def stats_lines(registry: CollectorRegistry, ts: float, host: str | None = None) -> list[bytes]:
    host = host or socket.gethostname()
    us = round(ts * 1_000_000)
    lines: list[bytes] = []
    for family in registry.collect():
        for sample in family.samples:
            if sample.name.endswith(("_bucket", "_created")):
                continue
            metric = sample.name.removeprefix("guardian_")
            key = series_key("gateway", [("host", host), ("metric", metric), *sample.labels.items()])
            lines.append(f"{key} value={float(sample.value)!r} {us}".encode())
    return lines
