"""Writing to a real VictoriaMetrics as the gateway does (tests of the store and of its dashboard)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec

from gateway.config.settings import InfluxSettings
from gateway.influx.client import InfluxV1
from gateway.influx.lineprotocol import EncodedLines, PointEncoder
from gateway.observe.health import Component
from gateway.observe.metrics import Metrics
from gateway.pipeline.exporter import Exporter
from gateway.pipeline.spool import Spool
from sensors import Decoder, RawMessage, compile_index, parse_registry
from sensors.decode import DecodeLimits
from sensors.index import DeviceIndex
from simulators import estate

ESTATE = estate.small_estate(site="t1", buildings=1, units=1, households_per_unit=3)
INDEX = compile_index([parse_registry(estate.dump(ESTATE))])
SENSORS = estate.sensor_ids(ESTATE)


def settings(port: int, **more: Any) -> InfluxSettings:
    return InfluxSettings(kind="victoriametrics", url=f"http://127.0.0.1:{port}", **more)


def lines(
    readings: list[tuple[str, float, int, dict[str, float]]], recv: float, index: DeviceIndex = INDEX
) -> EncodedLines:
    """(device, ts, seq, fields) decoded and encoded as the gateway does: the lines and their spool ids."""
    msgs = [
        RawMessage(
            i + 1,
            round(recv * 1e6) + i,
            f"guardian/t1/sensor/{device}/telemetry",
            msgspec.json.encode({"seq": seq, "ts": ts, **fields}),
        )
        for i, (device, ts, seq, fields) in enumerate(readings)
    ]
    batch = Decoder(index, DecodeLimits(max_skew=1e9, backfill=1e9)).decode(msgs)
    assert not batch.rejections, batch.rejections
    return PointEncoder(index).encode(batch)


async def write(
    tmp_path: Path, settings: InfluxSettings, encoded: EncodedLines, index: DeviceIndex = INDEX
) -> Metrics:
    """The lines through the exporter's write path (the one every stage writes through)."""
    metrics = Metrics()
    async with Spool(tmp_path / "spool.sqlite3") as spool, InfluxV1(settings) as store:
        exporter = Exporter(
            spool,
            store,
            Decoder(index),
            PointEncoder(index),
            metrics,
            Component(),
            after=0,
            clock=time.time,
        )
        await exporter._ensure_database()
        await exporter.write(encoded.lines, encoded.msg_ids)
    return metrics
