"""A delivery's state changes as InfluxDB points (measurement `notification`, docs/notifications.md): the
notifier's own history, written through the side-stream queue so an outage never holds a notification."""

from __future__ import annotations

from gateway.influx.lineprotocol import field_string, series_key
from gateway.notify.outbox import Delivery


def notification_line(
    d: Delivery, state: str, now: float, ts_us: int, *, paid: bool = False, cap: str = ""
) -> bytes:
    """One delivery state change (docs/notifications.md). `ts_us` is unique in the stream: several
    deliveries change state in the same microsecond and would otherwise overwrite each other. `paid`
    marks the point of a send that cost money (a provider accepted it: `paid=1i`, summed by the daily
    report); `cap` the cost cap that held it or that it went past ("number", "site")."""
    key = series_key(
        "notification",
        [
            ("site", d.site),
            ("building", d.building),
            ("household", d.message.household),
            ("rule", d.rule),
            ("severity", d.severity),
            ("channel", d.channel),
            ("audience", d.audience),
            ("state", state),
        ],
    )
    fields = (
        f"alarm_id={field_string(d.alarm_id)},recipient={field_string(d.recipient)},"
        f"transition={field_string(d.transition)},attempt={d.attempts}i,"
        f"latency_s={max(0.0, now - d.ts)!r}"
    )
    if d.error and state in ("failed", "retry", "held"):
        fields += f",error={field_string(d.error)}"
    if paid:
        fields += ",paid=1i"
    if cap:
        fields += f",cap={field_string(cap)}"
    return f"{key} {fields} {ts_us * 1000}".encode()
