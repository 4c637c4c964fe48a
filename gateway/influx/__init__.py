"""InfluxDB: the v1 HTTP client with its resilient writes, line protocol for every measurement, the bounded
counted queue a side stream writes through, retention policies and the continuous queries that downsample."""

from gateway.influx.client import InfluxV1
from gateway.influx.lineprotocol import (
    EncodedLines,
    PointEncoder,
    alarm_line,
    device_tags,
    field_string,
    series_key,
)
from gateway.influx.linequeue import LineQueue
from gateway.influx.policies import policy_of
from gateway.influx.retention import Backfill, ensure_schema

__all__ = [
    "Backfill",
    "EncodedLines",
    "InfluxV1",
    "LineQueue",
    "PointEncoder",
    "alarm_line",
    "device_tags",
    "ensure_schema",
    "field_string",
    "policy_of",
    "series_key",
]
