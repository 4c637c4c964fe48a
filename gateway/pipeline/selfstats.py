"""The gateway's own Prometheus metrics, sampled into InfluxDB (measurement `gateway`).

Grid officers' Grafana reads InfluxDB only; sampling the metrics there gives its Gateway dashboard (ingest
rate, rejections by reason, spool depth, write latency, notification outbox) without a Prometheus server.
Every counter and gauge becomes one series (field `value`), tagged with its labels; a histogram keeps
`sum` and `count` as two fields of one series, so a mean latency is one division in InfluxQL.
"""

from __future__ import annotations

import socket

from prometheus_client import CollectorRegistry

from gateway.influx.lineprotocol import series_key

HOST = socket.gethostname()


def stats_lines(registry: CollectorRegistry, ts: float, host: str = HOST) -> list[bytes]:
    us = round(ts * 1_000_000) * 1000  # ns, as every line the gateway writes
    lines: list[bytes] = []
    for family in registry.collect():
        if family.type == "histogram":
            # one point per label set: `sum` and `count` side by side, so a mean is one division
            parts: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
            for sample in family.samples:
                suffix = sample.name.rsplit("_", 1)[-1]
                if suffix in ("sum", "count"):
                    parts.setdefault(tuple(sorted(sample.labels.items())), {})[suffix] = float(sample.value)
            metric = family.name.removeprefix("guardian_")
            for labels, values in parts.items():
                key = series_key("gateway", [("host", host), ("metric", metric), *labels])
                fields = ",".join(f"{k}={v!r}" for k, v in sorted(values.items()))
                lines.append(f"{key} {fields} {us}".encode())
            continue
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            metric = sample.name.removeprefix("guardian_")
            key = series_key("gateway", [("host", host), ("metric", metric), *sample.labels.items()])
            lines.append(f"{key} value={float(sample.value)!r} {us}".encode())
    return lines
