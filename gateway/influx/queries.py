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


async def readings(
    influx: InfluxV1, site: str, devices: list[str], start: float, end: float, limit: int = 5000
) -> list[dict[str, Any]]:
    """Detectors' readings between two times (UNIX s), oldest first, as the API shows them."""
    names = " OR ".join(f"device = {_literal(d)}" for d in devices)
    rows = await influx.rows(
        'SELECT "co_ppm", "gas_lel", "battery_pct", "device" '
        f'FROM "{influx.policy("sensor_reading")}"."sensor_reading" '
        f"WHERE site = {_literal(site)} AND ({names}) AND time >= {int(start * 1e9)} "
        f"AND time <= {int(end * 1e9)} ORDER BY time LIMIT {int(limit)}",
        epoch="ms",
    )
    return [
        {
            "ts": r["time"] / 1000,
            "device": r.get("device") or "",
            "co_ppm": r.get("co_ppm"),
            "gas_lel": r.get("gas_lel"),
            "battery_pct": r.get("battery_pct"),
        }
        for r in rows
    ]
