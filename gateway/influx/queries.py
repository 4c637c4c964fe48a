"""The InfluxQL the API asks: each query one function, its identifiers quoted where they are built."""

from __future__ import annotations

from typing import Any

from gateway.influx.client import InfluxV1


def _literal(value: str) -> str:
    """A tag value as an InfluxQL string literal: backslashes and single quotes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


async def last_battery(influx: InfluxV1, site: str, device: str) -> list[dict[str, Any]]:
    """A detector's last battery reading in the past 30 days (epoch ms), or no row."""
    policy = influx.policy("sensor_reading")
    return await influx.rows(
        f'SELECT last("battery_pct") AS battery_pct FROM "{policy}"."sensor_reading" '
        f"WHERE site = {_literal(site)} AND device = {_literal(device)} AND time > now() - 30d",
        epoch="ms",
    )
