"""`guardian report --site S --day D`: one community's day on one page, for people who never open Grafana.

A property manager or a street office reads it the next morning: what happened and how fast it was
handled, which households were left without a working detector, which devices need a visit, which welfare
checks were raised. Chinese first, English beneath; charts are embedded SVG, so the file stands alone.
Everything comes from InfluxDB (docs/storage.md); the day is the site's local calendar day. Work orders
come from their `work_order` points: opened, resolved, late, and the times to claim and to resolve by
category and by the team each was dispatched to. What the day's
SMS and calls cost is read from the `notification` points too: a send a provider accepted carries
`paid=1`, a send a cost cap held or let past it carries `cap` (docs/notifications.md).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from alerts.rule import Family
from alerts.rules import RULES, of_family
from gateway.influx.client import InfluxV1
from gateway.ops import charts
from gateway.store.order_flow import NAMES, TEAM_NAMES

SEVERITY_COLOURS = {"P1": "#c62828", "P2": "#ef6c00", "P3": "#f9a825", "P4": "#1e88e5"}
WELFARE = of_family(Family.WELFARE)


@dataclass(slots=True)
class Incident:
    alarm_id: str
    rule: str
    severity: str
    raised: float
    building: str = ""
    household: str = ""
    subject: str = ""
    acknowledged: float | None = None
    by: str = ""
    cleared: float | None = None
    escalated: int = 0


@dataclass(slots=True)
class PaidSends:
    """One paid channel's day at a site: sends that cost money, and what its caps did."""

    sent: int = 0
    held: int = 0
    """P3/P4 a cap held until the next day (a number's or the site's)."""
    past_cap: int = 0
    """P1/P2 sent past a cap (each raised SYS-COST)."""


@dataclass(slots=True)
class DayReport:
    site: str
    name: str
    day: dt.date
    zone: ZoneInfo
    incidents: list[Incident] = field(default_factory=list)
    unprotected: list[dict[str, Any]] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    notifications: dict[str, int] = field(default_factory=dict)
    paid: dict[str, PaidSends] = field(default_factory=dict)
    """Per channel: paid sends and what the cost caps did."""
    readings: int = 0
    hourly_co: list[float | None] = field(default_factory=list)
    hourly_gas: list[float | None] = field(default_factory=list)
    hourly_unprotected: list[float | None] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    """The day's `work_order` points: one per change (action, category, team, claim_s, resolve_s, late)."""


def day_bounds(day: dt.date, zone: ZoneInfo) -> tuple[float, float]:
    start = dt.datetime.combine(day, dt.time(), zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
    return start.timestamp(), end.timestamp()


def _hourly(rows: list[dict[str, Any]], start: float, column: str) -> list[float | None]:
    hours: list[float | None] = [None] * 24
    for r in rows:
        i = int((r["time"] - start) // 3600)
        if 0 <= i < 24 and r.get(column) is not None:
            hours[i] = float(r[column])
    return hours


async def collect(influx: InfluxV1, site: str, name: str, day: dt.date, zone: ZoneInfo) -> DayReport:
    start, end = day_bounds(day, zone)
    span = f"\"site\" = '{site}' AND time >= {int(start)}s AND time < {int(end)}s"

    async def q(text: str) -> list[dict[str, Any]]:
        return await influx.rows(text, epoch="s")

    report = DayReport(site, name, day, zone)
    alarms: dict[str, Incident] = {}
    for r in await q(f'SELECT * FROM "events"."alarm" WHERE {span}'):
        kind = r["transition"]
        a = alarms.get(r["alarm_id"])
        if kind == "raised":
            a = alarms[r["alarm_id"]] = Incident(
                r["alarm_id"], r["rule"], r["severity"], r["time"], r.get("building") or "",
                r.get("household") or "", r.get("subject") or "",
            )  # fmt: skip
        elif a is None:
            continue  # raised on an earlier day
        elif kind == "acknowledged" and a.acknowledged is None:
            a.acknowledged, a.by = r["time"], r.get("by") or ""
        elif kind == "cleared":
            a.cleared = r["time"]
        elif kind == "escalated":
            a.escalated += 1
    report.incidents = sorted(alarms.values(), key=lambda a: a.raised)
    # one selector per query: with two, InfluxDB stamps rows with the range start instead of the point's time
    scope = f'FROM "household_state" WHERE {span} AND "unprotected" = 1 GROUP BY "building", "household"'
    report.unprotected = await q(f'SELECT first("unprotected") {scope}')
    last = {r["household"]: r for r in await q(f'SELECT last("reason") {scope}')}
    for r in report.unprotected:
        r["until"] = last[r["household"]]["time"] if r["household"] in last else r["time"]
        r["reason"] = last.get(r["household"], {}).get("last") or ""
    devices = await q(
        'SELECT last("health") AS "health", last("health_level") AS "level", last("last_seen_s") AS "last_seen_s" '
        f'FROM "device_state" WHERE {span} GROUP BY "building", "household", "device", "door"'
    )
    report.devices = [d for d in devices if (d.get("level") or 0) > 0]
    for r in await q(f'SELECT count("alarm_id") FROM "events"."notification" WHERE {span} GROUP BY "state"'):
        report.notifications[r["state"]] = int(r["count"])
    notes = f'FROM "events"."notification" WHERE {span}'
    for r in await q(f'SELECT sum("paid") {notes} GROUP BY "channel"'):
        report.paid.setdefault(r["channel"], PaidSends()).sent = int(r["sum"] or 0)
    for r in await q(f'SELECT count("cap") {notes} AND "state" = \'held\' GROUP BY "channel"'):
        report.paid.setdefault(r["channel"], PaidSends()).held = int(r["count"] or 0)
    for r in await q(f'SELECT count("cap") {notes} AND "state" != \'held\' GROUP BY "channel"'):
        report.paid.setdefault(r["channel"], PaidSends()).past_cap = int(r["count"] or 0)
    counted = await q(f'SELECT count("seq") FROM "sensor_reading" WHERE {span}')
    report.readings = int(counted[0]["count"]) if counted else 0
    hourly = f"{span} GROUP BY time(1h) fill(none)"
    readings = await q(
        f'SELECT max("co_ppm") AS "co", max("gas_lel") AS "gas" FROM "sensor_reading" WHERE {hourly}'
    )
    if not readings:  # older than the raw retention: the 1-hour series
        readings = await q(
            f'SELECT max("co_ppm_max") AS "co", max("gas_lel_max") AS "gas" FROM "h1"."sensor_reading" WHERE {hourly}'
        )
    report.hourly_co = _hourly(readings, start, "co")
    report.hourly_gas = _hourly(readings, start, "gas")
    state = await q(f'SELECT max("unprotected") AS "n" FROM "site_state" WHERE {hourly}')
    if not state:
        state = await q(f'SELECT max("unprotected") AS "n" FROM "h1"."site_state" WHERE {hourly}')
    report.hourly_unprotected = _hourly(state, start, "n")
    report.orders = await q(f'SELECT * FROM "events"."work_order" WHERE {span}')
    return report


def _orders(r: DayReport) -> tuple[list[tuple[str, str]], str]:
    """The work-order figures and the table by category and team."""
    opened = [o for o in r.orders if o.get("action") in ("submit", "open")]
    claims = [o for o in r.orders if o.get("action") == "claim" and o.get("claim_s") is not None]
    resolves = [o for o in r.orders if o.get("action") == "resolve" and o.get("resolve_s") is not None]
    figures = [
        ("工单 新开 / 办结 Work orders opened / resolved", f"{len(opened)} / {len(resolves)}"),
        ("超时接单 / 超时办结 Claimed late / resolved late",
         f"{sum(1 for o in claims if o.get('late'))} / {sum(1 for o in resolves if o.get('late'))}"),
    ]  # fmt: skip
    groups: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = defaultdict(lambda: {"c": [], "r": []})
    for o in claims:
        groups[(o.get("category") or "", o.get("team") or "")]["c"].append(o)
    for o in resolves:
        groups[(o.get("category") or "", o.get("team") or "")]["r"].append(o)
    rows = []
    for (category, team), g in sorted(groups.items()):
        zh, en = NAMES.get(category, (category, category))
        team_zh, team_en = TEAM_NAMES.get(team, (team or "—", ""))
        rows.append([
            f"{escape(zh)}<br><small>{escape(en)}</small>", f"{escape(team_zh)}<br><small>{escape(team_en)}</small>",
            str(len(g["c"])), _median([float(o["claim_s"]) for o in g["c"]]),
            str(len(g["r"])), _median([float(o["resolve_s"]) for o in g["r"]]),
            str(sum(1 for o in g["c"] + g["r"] if o.get("late"))),
        ])  # fmt: skip
    table = _table(
        [("类别", "Category"), ("班组", "Team"), ("接单", "Claimed"), ("接单用时中位数", "Median to claim"),
         ("办结", "Resolved"), ("办结用时中位数", "Median to resolve"), ("超时", "Late")],
        rows,
        ("今日无工单接单或办结", "No work order claimed or resolved this day"),
    )  # fmt: skip
    return figures, table


# -- rendering -------------------------------------------------------------------------------------------


def _clock(ts: float | None, zone: ZoneInfo) -> str:
    return "—" if ts is None else dt.datetime.fromtimestamp(ts, zone).strftime("%H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _title(rule: str) -> tuple[str, str]:
    row = RULES.get(rule)
    return (row.title_zh, row.title) if row else (rule, rule)


def _table(headers: list[tuple[str, str]], rows: list[list[str]], empty: tuple[str, str]) -> str:
    if not rows:
        return f'<p class="none">{escape(empty[0])} · {escape(empty[1])}</p>'
    head = "".join(f"<th>{escape(zh)}<br><small>{escape(en)}</small></th>" for zh, en in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _median(values: list[float]) -> str:
    return _duration(statistics.median(values)) if values else "—"


def render(r: DayReport) -> str:
    z = r.zone
    by_severity: dict[str, list[Incident]] = defaultdict(list)
    for a in r.incidents:
        by_severity[a.severity].append(a)
    urgent = by_severity["P1"] + by_severity["P2"]
    ack = [a.acknowledged - a.raised for a in urgent if a.acknowledged is not None]
    clear = [a.cleared - a.raised for a in r.incidents if a.cleared is not None]
    unanswered = [a for a in urgent if a.acknowledged is None and a.cleared is None]
    sent = sum(v for k, v in r.notifications.items() if k in ("sent", "delivered"))
    failed = r.notifications.get("failed", 0)
    labels = [f"{h:02d}" for h in range(24)]
    start, _ = day_bounds(r.day, z)
    per_hour = {sev: [0.0] * 24 for sev in SEVERITY_COLOURS}
    for a in r.incidents:
        i = int((a.raised - start) // 3600)
        if 0 <= i < 24 and a.severity in per_hour:
            per_hour[a.severity][i] += 1
    alarm_chart = charts.stacked_bars(labels, per_hour, SEVERITY_COLOURS, "alarms")
    air_chart = charts.lines(
        labels, {"CO ppm": r.hourly_co, "gas %LEL": r.hourly_gas}, {"CO ppm": "#6a1b9a", "gas %LEL": "#ef6c00"},
        "max", marks=((30.0, "#f9a825"), (10.0, "#ef6c00")),
    )  # fmt: skip
    unprotected_chart = charts.lines(
        labels, {"unprotected": r.hourly_unprotected}, {"unprotected": "#c62828"}, "households"
    )
    figures = [
        ("告警 Alarms raised", str(len(r.incidents))),
        ("P1 / P2", f"{len(by_severity['P1'])} / {len(by_severity['P2'])}"),
        ("P1/P2 确认用时中位数 Median time to acknowledge", _median(ack)),
        ("无人确认的 P1/P2 Unanswered P1/P2", str(len(unanswered))),
        ("消除用时中位数 Median time to clear", _median(clear)),
        ("通知 Notifications sent / failed", f"{sent} / {failed}"),
        ("未防护住户 Households left unprotected", str(len(r.unprotected))),
        ("需维护设备 Devices to fix", str(len(r.devices))),
        ("读数 Readings stored", f"{r.readings:,}"),
    ]
    order_figures, orders = _orders(r)
    figures[7:7] = order_figures
    incidents = _table(
        [("时间", "Raised"), ("级别", "Severity"), ("告警", "Alarm"), ("位置", "Where"), ("确认", "Acknowledged"),
         ("处理人", "By"), ("消除", "Cleared"), ("升级", "Escalations")],
        [
            [
                _clock(a.raised, z),
                f'<span class="sev {a.severity}">{a.severity}</span>',
                "<br>".join(escape(t) for t in _title(a.rule)) + f" <small>{escape(a.rule)}</small>",
                escape(a.household or a.building) + f"<br><small>{escape(a.subject)}</small>",
                _duration(None if a.acknowledged is None else a.acknowledged - a.raised),
                escape(a.by),
                _duration(None if a.cleared is None else a.cleared - a.raised),
                str(a.escalated or ""),
            ]
            for a in r.incidents
            if a.rule not in WELFARE
        ],
        ("今日无告警", "No alarms this day"),
    )  # fmt: skip
    unprotected = _table(
        [("楼栋", "Building"), ("住户", "Household"), ("自", "From"), ("至", "Until"), ("原因", "Why")],
        [
            [escape(u["building"]), escape(u["household"]), _clock(u["time"], z), _clock(u["until"], z),
             escape(u.get("reason") or "")]
            for u in r.unprotected
        ],
        ("所有住户全天受保护", "Every household was protected all day"),
    )  # fmt: skip
    devices = _table(
        [("楼栋", "Building"), ("住户", "Household"), ("设备", "Device"), ("状态", "Health"), ("最后上报", "Last seen")],
        [
            [escape(d["building"]), escape(d.get("household") or ""), escape(d.get("device") or d.get("door") or ""),
             escape(d["health"]), _duration(d.get("last_seen_s")) + " ago"]
            for d in r.devices
        ],
        ("无需维护的设备", "No device needs a visit"),
    )  # fmt: skip
    welfare = _table(
        [("时间", "Raised"), ("告警", "Check"), ("住户", "Household"), ("确认", "Acknowledged"), ("处理人", "By")],
        [
            [_clock(a.raised, z), "<br>".join(escape(t) for t in _title(a.rule)), escape(a.household or a.subject),
             _duration(None if a.acknowledged is None else a.acknowledged - a.raised), escape(a.by)]
            for a in r.incidents
            if a.rule in WELFARE
        ],
        ("今日无探访提醒", "No welfare checks this day"),
    )  # fmt: skip
    paid = _table(
        [("渠道", "Channel"), ("付费发送", "Paid sends"), ("限额暂缓", "Held by a cap"),
         ("超限发送", "Sent past a cap")],
        [
            [escape(channel), str(p.sent), str(p.held), str(p.past_cap)]
            for channel, p in sorted(r.paid.items())
        ],
        ("今日无付费通知", "No paid sends this day"),
    )  # fmt: skip
    cards = "".join(
        f'<div class="card"><div class="n">{escape(v)}</div><div>{escape(k)}</div></div>' for k, v in figures
    )
    title_zh = f"{r.name} 社区安全日报 {r.day.isoformat()}"
    title_en = f"{r.name} community safety report, {r.day.isoformat()}"
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title_zh)} · {escape(title_en)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; margin: 24px auto;
       max-width: 960px; color: #222; padding: 0 12px; }}
h1 {{ font-size: 22px; margin-bottom: 0; }} h1 + p {{ margin-top: 4px; color: #555; }}
h2 {{ font-size: 17px; border-bottom: 2px solid #eee; padding-bottom: 4px; margin-top: 32px; }}
h2 small, th small {{ color: #666; font-weight: normal; }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: 10px; }}
.card {{ border: 1px solid #ddd; border-radius: 6px; padding: 10px; font-size: 12px; color: #444; }}
.card .n {{ font-size: 22px; font-weight: bold; color: #111; }}
table {{ border-collapse: collapse; width: 100%; font-size: 13px; }}
th, td {{ border-bottom: 1px solid #eee; padding: 6px; text-align: left; vertical-align: top; }}
.sev {{ color: white; border-radius: 3px; padding: 1px 5px; font-weight: bold; }}
.P1 {{ background: #c62828; }} .P2 {{ background: #ef6c00; }} .P3 {{ background: #f9a825; }} .P4 {{ background: #1e88e5; }}
.none {{ color: #2e7d32; }} img {{ max-width: 100%; height: auto; }}
footer {{ margin-top: 32px; font-size: 12px; color: #777; }}
</style>
</head>
<body>
<h1>{escape(title_zh)}</h1>
<p>{escape(title_en)} · {escape(str(r.zone))}</p>
<section id="summary"><div class="cards">{cards}</div></section>
<h2>每小时告警 <small>Alarms per hour</small></h2>
<img id="chart-alarms" alt="alarms per hour" src="{charts.data_url(alarm_chart)}">
<h2>事件及处理 <small>Incidents and how fast they were handled</small></h2>
<section id="incidents">{incidents}</section>
<h2>未防护住户 <small>Households left unprotected</small></h2>
<img id="chart-unprotected" alt="unprotected households per hour" src="{charts.data_url(unprotected_chart)}">
<section id="unprotected">{unprotected}</section>
<h2>短信与电话费用 <small>SMS and calls: paid sends and caps</small></h2>
<section id="paid">{paid}</section>
<h2>工单 <small>Work orders: time to claim and to resolve, by category and team</small></h2>
<section id="orders">{orders}</section>
<h2>需维护设备 <small>Devices to fix</small></h2>
<section id="devices">{devices}</section>
<h2>独居老人探访 <small>Welfare checks</small></h2>
<section id="welfare">{welfare}</section>
<h2>室内空气（每小时最高） <small>Air: the highest reading each hour</small></h2>
<img id="chart-air" alt="highest CO and gas per hour" src="{charts.data_url(air_chart)}">
<footer>Gas Guardian · {escape(r.site)} · 数据来自 InfluxDB / from InfluxDB</footer>
</body>
</html>
"""
