"""The seven dashboards grid officers and the control room use (docs/dashboards.md).

Every query reads the measurements of docs/storage.md. State ("how many households are unprotected now")
comes from the `*_state` measurements the gateway writes each minute; history ("how fast were P1s
acknowledged") from `events.alarm` and `events.notification`; long ranges from the downsampled `h1` series.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from dashboards.parts import (
    BUILDING_SCOPE,
    GRID_SCOPE,
    HOUSEHOLD_SCOPE,
    SCOPE,
    TAGS,
    building,
    count_stat,
    data_link,
    device,
    graph,
    grid,
    grid_table,
    host,
    household,
    link,
    site,
    tiles,
)

DISTRICT, COMMUNITY, HOUSEHOLD, DEVICES, RESPONSE, ORDERS, GATEWAY = (
    "guardian-district",
    "guardian-community",
    "guardian-household",
    "guardian-devices",
    "guardian-response",
    "guardian-orders",
    "guardian-gateway",
)
CO_LINES = ((30.0, "yellow"), (50.0, "orange"), (100.0, "red"))
"""EN 50291 test points: 30 ppm no alarm for 2 h; 50 ppm alarm in 60-90 min; 100 ppm in 10-40 min."""
GAS_LINES = ((10.0, "orange"), (20.0, "red"))
"""Household set-points: stage 1 at 10 % LEL, stage 2 at 20 % LEL."""


def _board(uid: str, title: str, description: str, *, refresh: str = "1m", days: int = 1) -> db.Dashboard:
    return (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .timezone("browser")
        .refresh(refresh)
        .time(f"now-{days}d" if days > 1 else "now-24h", "now")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .links(
            [
                link("District 区县", DISTRICT),
                link("Community 社区", COMMUNITY),
                link("Household 住户", HOUSEHOLD),
                link("Devices 设备", DEVICES),
                link("Response 响应", RESPONSE),
                link("Work orders 工单", ORDERS),
                link("Gateway 网关", GATEWAY),
            ]
        )
    )


def _latest(measurement: str, fields: dict[str, str], where: str, group: str) -> str:
    """The newest value of each field for each `group` series."""
    select = ", ".join(f'last("{f}") AS "{alias}"' for f, alias in fields.items())
    return f'SELECT {select} FROM "{measurement}" WHERE {where} AND $timeFilter GROUP BY {group}'


def _total(measurement: str, field: str, where: str, group: str) -> str:
    """The newest value of `field` summed over the `group` series (sites, buildings)."""
    return (
        f'SELECT sum("n") FROM (SELECT last("{field}") AS "n" FROM "{measurement}" '
        f"WHERE {where} AND $timeFilter GROUP BY {group})"
    )


def _over_time(measurement: str, fields: dict[str, str], where: str, group: str) -> str:
    """State over time summed across the `group` series: each series' last value per interval, added."""
    inner = ", ".join(f'last("{f}") AS "{f}"' for f in fields)
    outer = ", ".join(f'sum("{f}") AS "{alias}"' for f, alias in fields.items())
    return (
        f'SELECT {outer} FROM (SELECT {inner} FROM "{measurement}" WHERE {where} AND $timeFilter '
        f"GROUP BY time($__interval), {group} fill(none)) WHERE $timeFilter GROUP BY time($__interval) fill(none)"
    )


def _counted(measurement: str, where: str, by: str, field: str = "alarm_id") -> str:
    return (
        f'SELECT count("{field}") FROM {measurement} WHERE {where} AND $timeFilter '
        f'GROUP BY time($__interval), "{by}" fill(none)'
    )


ALARMS = '"events"."alarm"'
WORK_ORDERS = '"events"."work_order"'
NOTIFICATIONS = '"events"."notification"'
DOORS = '"door"."door_event"'
_SITE_TOTALS = {"active_p1": "P1", "active_p2": "P2", "active_p3": "P3", "active_p4": "P4"}


def district() -> db.Dashboard:
    d = _board(
        DISTRICT,
        "Gas Guardian · District overview 区县总览",
        "Every community at a glance: open alarms, unprotected households, devices offline, welfare checks.",
    ).with_variable(site())
    d = (
        d.with_panel(
            count_stat(
                "Communities 社区",
                'SELECT count("h") FROM (SELECT last("households") AS "h" '
                'FROM "site_state" WHERE ' + SCOPE + ' AND $timeFilter GROUP BY "site")',
                warn_at=1e9,
            )
        )
        .with_panel(
            count_stat("P1 open 生命安全", _total("site_state", "active_p1", SCOPE, '"site"'), colour="red")
        )
        .with_panel(count_stat("P2 open 紧急", _total("site_state", "active_p2", SCOPE, '"site"')))
        .with_panel(
            count_stat(
                "Unprotected households 未防护住户", _total("site_state", "unprotected", SCOPE, '"site"')
            )
        )
        .with_panel(
            count_stat(
                "Devices offline 离线设备",
                _total("site_state", "devices_offline", SCOPE, '"site"'),
                colour="yellow",
            )
        )
        .with_panel(
            count_stat("Welfare checks due 待探访", _total("site_state", "welfare_due", SCOPE, '"site"'))
        )
        .with_panel(
            grid_table(
                "Communities 社区",
                _latest(
                    "site_state",
                    {
                        "households": "households",
                        "unprotected": "unprotected",
                        "devices_offline": "offline",
                        **_SITE_TOTALS,
                        "unacknowledged": "unacknowledged",
                        "welfare_due": "welfare due",
                    },
                    SCOPE,
                    '"site"',
                ),
                links=[data_link("Open community 打开社区", COMMUNITY, "var-site=${__data.fields.site}")],
            )
        )
        .with_panel(
            graph(
                "Open alarms by severity 未关闭告警", _over_time("site_state", _SITE_TOTALS, SCOPE, '"site"')
            )
        )
        .with_panel(
            graph(
                "Unprotected households and devices offline",
                _over_time(
                    "site_state",
                    {"unprotected": "unprotected", "devices_offline": "offline"},
                    SCOPE,
                    '"site"',
                ),
            )
        )
        .with_panel(
            graph(
                "Alarms raised by severity 新告警",
                _counted(ALARMS, "\"transition\" = 'raised' AND " + SCOPE, "severity"),
                bars=True,
                w=24,
            )
        )
        .with_panel(
            grid_table(
                "Latest P1 and P2 alarms 最新 P1/P2 告警",
                'SELECT "site", "building", "household", "rule", "severity", "subject", "alarm_id" FROM '
                f'{ALARMS} WHERE "transition" = \'raised\' AND "severity" =~ /^P[12]$/ AND {SCOPE} '
                "AND $timeFilter ORDER BY time DESC LIMIT 50",
            )
        )
    )
    return d


def community() -> db.Dashboard:
    d = (
        _board(
            COMMUNITY,
            "Gas Guardian · Community and grid 社区网格",
            "One community's buildings coloured by their worst open alarm, CO and gas over time, alarms, doors.",
        )
        .with_variable(site(multi=False))
        .with_variable(grid())
        .with_variable(building())
    )
    scope = GRID_SCOPE + ' AND "building" =~ /^$building$/'
    return (
        d.with_panel(
            tiles(
                "Buildings 楼栋 (worst open alarm)",
                f'SELECT last("level") FROM "building_state" WHERE {scope} AND $timeFilter GROUP BY "building"',
                links=[
                    data_link(
                        "Households of this building",
                        HOUSEHOLD,
                        "var-site=${site}&var-grid=${grid}&var-building=${__field.labels.building}",
                    )
                ],
            ).display_name("${__field.labels.building}")
        )
        .with_panel(
            grid_table(
                "Buildings 楼栋",
                _latest(
                    "building_state",
                    {
                        "households": "households",
                        "unprotected": "unprotected",
                        "devices_offline": "offline",
                        "devices_attention": "need a visit",
                        **_SITE_TOTALS,
                        "welfare_due": "welfare due",
                    },
                    scope,
                    '"building"',
                ),
                w=12,
            )
        )
        .with_panel(
            grid_table(
                "Unprotected households now 当前未防护住户",
                'SELECT last("reason") AS "reason" FROM "household_state" WHERE '
                f'{scope} AND "unprotected" = 1 AND time > now() - 5m GROUP BY "building", "household"',
                w=12,
                links=[
                    data_link(
                        "Open household",
                        HOUSEHOLD,
                        "var-site=${site}&var-building=${__data.fields.building}"
                        "&var-household=${__data.fields.household}",
                    )
                ],
            )
        )
        .with_panel(
            graph(
                "CO ppm, highest per building 一氧化碳",
                'SELECT max("co_ppm") FROM "sensor_reading" WHERE '
                f'{scope} AND $timeFilter GROUP BY time($__interval), "building" fill(none)',
                unit="ppm",
                lines=CO_LINES,
            )
        )
        .with_panel(
            graph(
                "Gas %LEL, highest per building 可燃气体",
                'SELECT max("gas_lel") FROM "sensor_reading" WHERE '
                f'{scope} AND $timeFilter GROUP BY time($__interval), "building" fill(none)',
                unit="percent",
                lines=GAS_LINES,
            )
        )
        .with_panel(
            graph(
                "Alarms raised by rule 告警",
                _counted(ALARMS, f"\"transition\" = 'raised' AND {BUILDING_SCOPE}", "rule"),
                bars=True,
            )
        )
        .with_panel(graph("Door activity 门禁", _counted(DOORS, BUILDING_SCOPE, "event", "seq"), bars=True))
        .with_panel(
            grid_table(
                "Alarm timeline 告警时间线",
                'SELECT "building", "household", "rule", "severity", "transition", "subject", "by", "alarm_id" '
                f"FROM {ALARMS} WHERE {BUILDING_SCOPE} AND $timeFilter ORDER BY time DESC LIMIT 200",
            )
        )
        .with_panel(
            graph(
                "CO hourly highest, long term (1-hour series) 长期趋势",
                'SELECT max("co_ppm_max") FROM "h1"."sensor_reading" WHERE '
                f'{scope} AND $timeFilter GROUP BY time(1h), "building" fill(none)',
                unit="ppm",
                lines=CO_LINES,
            )
        )
        .with_panel(
            graph(
                "Door passages per hour, long term (1-hour series)",
                'SELECT sum("events") FROM "h1"."door_activity" WHERE '
                f"{BUILDING_SCOPE} AND \"event\" = 'access_granted' AND $timeFilter "
                'GROUP BY time(1h), "building" fill(none)',
                bars=True,
            )
        )
    )


def household_board() -> db.Dashboard:
    d = (
        _board(
            HOUSEHOLD,
            "Gas Guardian · Household 住户",
            "One household: CO with its dose and COHb estimate, gas, batteries, and its alarm and notification history.",
        )
        .with_variable(site(multi=False))
        .with_variable(grid())
        .with_variable(building(multi=False))
        .with_variable(household())
        .with_variable(device())
    )
    dev = HOUSEHOLD_SCOPE + ' AND "device" =~ /^$device$/'

    def per_device(field: str, fn: str = "mean", measurement: str = "sensor_reading") -> str:
        return (
            f'SELECT {fn}("{field}") FROM "{measurement}" WHERE {dev} AND $timeFilter '
            'GROUP BY time($__interval), "device" fill(none)'
        )

    protection = (
        count_stat(
            "Protection 防护",
            f'SELECT last("unprotected") FROM "household_state" WHERE {HOUSEHOLD_SCOPE} AND $timeFilter',
            colour="red",
            w=6,
        )
        .no_value("Protected 已防护")
        .mappings(  # households are written only while something is wrong
            [
                dm.ValueMap(
                    options={
                        "0": dm.ValueMappingResult(text="Protected 已防护", color="green", index=0),
                        "1": dm.ValueMappingResult(text="Unprotected 未防护", color="red", index=1),
                    }
                )
            ]
        )
    )
    worst = tiles(
        "Worst open alarm 当前最高告警",
        f'SELECT last("level") FROM "household_state" WHERE {HOUSEHOLD_SCOPE} AND $timeFilter',
        w=6,
        h=4,
    )
    return (
        d.with_panel(protection)
        .with_panel(worst)
        .with_panel(
            grid_table(
                "Why unprotected 未防护原因",
                'SELECT "reason" FROM "household_state" WHERE '
                f"{HOUSEHOLD_SCOPE} AND $timeFilter ORDER BY time DESC LIMIT 1",
                w=12,
                h=4,
            )
        )
        .with_panel(graph("CO ppm 一氧化碳", per_device("co_ppm"), unit="ppm", lines=CO_LINES))
        .with_panel(
            graph(
                "CO dose (1.0 = alarm) 剂量",
                per_device("dose", "last", "device_state"),
                lines=((0.5, "orange"), (1.0, "red")),
                description="The engine's exposure dose: the alarm comes at 1.0 (docs/rules.md).",
            )
        )
        .with_panel(
            graph(
                "COHb estimate % 碳氧血红蛋白",
                per_device("cohb_pct", "last", "device_state"),
                unit="percent",
                lines=((2.5, "orange"), (5.0, "red")),
                description="Coburn-Forster-Kane estimate for a resident breathing this air (CO-4).",
            )
        )
        .with_panel(graph("Gas %LEL 可燃气体", per_device("gas_lel", "max"), unit="percent", lines=GAS_LINES))
        .with_panel(
            graph(
                "Battery 电量",
                per_device("battery_pct", "last"),
                unit="percent",
                lines=((20.0, "orange"),),
                w=24,
                h=6,
            )
        )
        .with_panel(
            grid_table(
                "Alarm history 告警记录",
                'SELECT "rule", "severity", "transition", "subject", "by", '
                f'"age_s", "alarm_id" FROM {ALARMS} WHERE {HOUSEHOLD_SCOPE} AND $timeFilter '
                "ORDER BY time DESC LIMIT 100",
                w=12,
            )
        )
        .with_panel(
            grid_table(
                "Notifications 通知记录",
                'SELECT "rule", "state", "channel", "audience", "recipient", '
                f'"attempt", "latency_s", "error" FROM {NOTIFICATIONS} WHERE {HOUSEHOLD_SCOPE} '
                "AND $timeFilter ORDER BY time DESC LIMIT 200",
                w=12,
            )
        )
    )


def devices() -> db.Dashboard:
    d = (
        _board(
            DEVICES,
            "Gas Guardian · Device health 设备健康",
            "Which detectors and door terminals need a visit: offline, faulty, stuck, end of life, batteries.",
        )
        .with_variable(site())
        .with_variable(grid())
        .with_variable(building())
    )
    scope = GRID_SCOPE + ' AND "building" =~ /^$building$/'
    return (
        d.with_panel(
            count_stat("Offline 离线", _total("building_state", "devices_offline", scope, '"building"'), w=6)
        )
        .with_panel(
            count_stat(
                "Detectors needing a visit 需维护",
                _total("building_state", "devices_attention", scope, '"building"'),
                colour="yellow",
                w=6,
            )
        )
        .with_panel(
            graph(
                "Devices offline and needing a visit",
                _over_time(
                    "building_state",
                    {"devices_offline": "offline", "devices_attention": "need a visit"},
                    scope,
                    '"building"',
                ),
                h=4,
            )
        )
        .with_panel(
            grid_table(
                "Needing attention now 当前需处理",
                'SELECT last("health") AS "health", last("last_seen_s") AS "last seen (s)", last("online") AS "online" '
                f'FROM "device_state" WHERE {scope} AND "health_level" > 0 AND time > now() - 5m '
                'GROUP BY "building", "household", "device", "door"',
                h=10,
            )
        )
        .with_panel(
            grid_table(
                "Longest silent 最久未上报",
                'SELECT top("seen", "device", 20) AS "last seen (s)" FROM (SELECT last("last_seen_s") AS "seen" '
                f'FROM "device_state" WHERE {scope} AND time > now() - 5m GROUP BY "device")',
                w=12,
            )
        )
        .with_panel(
            grid_table(
                "Lowest batteries 电量最低",
                'SELECT bottom("battery", "device", 20) AS "battery %" FROM (SELECT last("battery_pct") AS "battery" '
                f'FROM "sensor_reading" WHERE {BUILDING_SCOPE} AND $timeFilter GROUP BY "device")',
                w=12,
            )
        )
        .with_panel(
            grid_table(
                "Stuck, drifting, faulty and end-of-life detectors (alarms) 故障记录",
                'SELECT "building", "household", "rule", "severity", "transition", "subject" FROM '
                f'{ALARMS} WHERE "rule" =~ /^HLT-/ AND {BUILDING_SCOPE} AND $timeFilter ORDER BY time DESC LIMIT 200',
            )
        )
    )


def response() -> db.Dashboard:
    d = (
        _board(
            RESPONSE,
            "Gas Guardian · Response 响应",
            "How fast alarms were acknowledged and cleared, by whom and by severity; escalations; deliveries.",
            days=7,
        )
        .with_variable(site())
        .with_variable(grid())
        .with_variable(building())
    )
    acked = f"\"transition\" = 'acknowledged' AND {BUILDING_SCOPE} AND $timeFilter"
    cleared = f"\"transition\" = 'cleared' AND {BUILDING_SCOPE} AND $timeFilter"
    return (
        d.with_panel(
            count_stat(
                "P1 median time to acknowledge",
                f'SELECT median("age_s") FROM {ALARMS} WHERE "severity" = \'P1\' AND {acked}',
                warn_at=300,
                w=6,
            ).unit("s")
        )
        .with_panel(
            count_stat(
                "P2 median time to acknowledge",
                f'SELECT median("age_s") FROM {ALARMS} WHERE "severity" = \'P2\' AND {acked}',
                warn_at=900,
                w=6,
            ).unit("s")
        )
        .with_panel(
            count_stat(
                "Median time to clear",
                f'SELECT median("age_s") FROM {ALARMS} WHERE {cleared}',
                warn_at=3600,
                colour="yellow",
                w=6,
            ).unit("s")
        )
        .with_panel(
            count_stat(
                "Escalations 升级",
                f'SELECT count("alarm_id") FROM {ALARMS} '
                f"WHERE \"transition\" = 'escalated' AND {BUILDING_SCOPE} AND $timeFilter",
                w=6,
            )
        )
        .with_panel(
            grid_table(
                "Time to acknowledge by who and severity 确认用时",
                'SELECT median("age_s") AS "median s", max("age_s") AS "longest s", count("age_s") AS "alarms" '
                f'FROM {ALARMS} WHERE {acked} GROUP BY "by", "severity"',
                w=12,
            )
        )
        .with_panel(
            grid_table(
                "Time to clear by rule 消除用时",
                'SELECT median("age_s") AS "median s", max("age_s") AS "longest s", count("age_s") AS "alarms" '
                f'FROM {ALARMS} WHERE {cleared} GROUP BY "rule", "severity"',
                w=12,
            )
        )
        .with_panel(
            graph(
                "Escalations by rule 升级",
                _counted(ALARMS, f"\"transition\" = 'escalated' AND {BUILDING_SCOPE}", "rule"),
                bars=True,
            )
        )
        .with_panel(
            graph(
                "Notifications by state 通知状态", _counted(NOTIFICATIONS, BUILDING_SCOPE, "state"), bars=True
            )
        )
        .with_panel(
            graph(
                "Delivery latency 送达用时",
                'SELECT median("latency_s") AS "median", percentile("latency_s", 95) AS "p95" FROM '
                f"{NOTIFICATIONS} WHERE (\"state\" = 'sent' OR \"state\" = 'delivered') AND {BUILDING_SCOPE} "
                "AND $timeFilter GROUP BY time($__interval) fill(none)",
                unit="s",
                lines=((15.0, "red"),),
                description="GB/T 45839: an alarm is pushed within 15 s.",
            )
        )
        .with_panel(
            grid_table(
                "Delivery failures 送达失败",
                'SELECT "building", "rule", "channel", "audience", "recipient", "attempt", "error" FROM '
                f"{NOTIFICATIONS} WHERE (\"state\" = 'failed' OR \"state\" = 'retry') AND {BUILDING_SCOPE} "
                "AND $timeFilter ORDER BY time DESC LIMIT 200",
                w=12,
            )
        )
    )


def orders() -> db.Dashboard:
    """Work orders (docs/work-orders.md): opened and finished, claimed or resolved after their clock ran out,
    and how long claiming and resolving took, by category and by the team an order was dispatched to."""
    d = _board(
        ORDERS,
        "Gas Guardian · Work orders 工单",
        "Orders opened and resolved; late claims and resolutions; time to claim and to resolve by category "
        "and team (the clocks of docs/work-orders.md).",
        days=7,
    ).with_variable(site())

    def per(action: str) -> str:
        return f"\"action\" = '{action}' AND {SCOPE} AND $timeFilter"

    opened = f"(\"action\" = 'submit' OR \"action\" = 'open') AND {SCOPE} AND $timeFilter"
    finished = f"(\"action\" = 'resolve' OR \"action\" = 'close' OR \"action\" = 'cancel') AND {SCOPE} AND $timeFilter"
    by = 'GROUP BY time($__interval), "category", "team" fill(none)'
    return (
        d.with_panel(
            count_stat(
                "Opened 新开工单",
                f'SELECT count("order_id") FROM {WORK_ORDERS} WHERE {opened}',
                colour="blue",
                w=6,
            )
        )
        .with_panel(
            count_stat(
                "Resolved 办结",
                f'SELECT count("order_id") FROM {WORK_ORDERS} WHERE {per("resolve")}',
                colour="blue",
                w=6,
            )
        )
        .with_panel(
            count_stat(
                "Claimed late 接单超时",
                f'SELECT sum("late") FROM {WORK_ORDERS} WHERE {per("claim")}',
                warn_at=1,
                w=6,
            )
        )
        .with_panel(
            count_stat(
                "Resolved late 办结超时",
                f'SELECT sum("late") FROM {WORK_ORDERS} WHERE {per("resolve")}',
                warn_at=1,
                w=6,
            )
        )
        .with_panel(
            graph(
                "Opened by category 按类别新开",
                f'SELECT count("order_id") FROM {WORK_ORDERS} WHERE {opened} GROUP BY time($__interval), "category" fill(none)',
                bars=True,
            )
        )
        .with_panel(
            graph(
                "Finished: resolved, closed, cancelled 办结·关闭·撤销",
                f'SELECT count("order_id") FROM {WORK_ORDERS} WHERE {finished} GROUP BY time($__interval), "action" fill(none)',
                bars=True,
            )
        )
        .with_panel(
            graph(
                "Time to claim by category and team 接单用时",
                f'SELECT max("claim_s") AS "claim" FROM {WORK_ORDERS} WHERE {per("claim")} {by}',
                unit="s",
                lines=((15 * 60.0, "red"),),
                description="From filing (or the alarm) to the claim; the line is a P1's 15 minutes.",
            )
        )
        .with_panel(
            graph(
                "Time to resolve by category and team 办结用时",
                f'SELECT max("resolve_s") AS "resolve" FROM {WORK_ORDERS} WHERE {per("resolve")} {by}',
                unit="s",
                description="From filing to the resolution, time on hold left out.",
            )
        )
        .with_panel(
            grid_table(
                "By category and team 按类别与班组",
                'SELECT count("claim_s") AS "claimed", median("claim_s") AS "median claim s", sum("late") AS "late", '
                f'max("claim_s") AS "longest claim s" FROM {WORK_ORDERS} WHERE {per("claim")} '
                'GROUP BY "category", "team"',
                w=12,
            )
        )
        .with_panel(
            grid_table(
                "Resolution by category and team 办结按类别与班组",
                'SELECT count("resolve_s") AS "resolved", median("resolve_s") AS "median resolve s", '
                f'sum("late") AS "late" FROM {WORK_ORDERS} WHERE {per("resolve")} GROUP BY "category", "team"',
                w=12,
            )
        )
    )


def gateway() -> db.Dashboard:
    d = _board(
        GATEWAY,
        "Gas Guardian · Gateway 网关",
        "The gateway itself: ingest, rejections, spool, storage, outbox.",
        refresh="30s",
    ).with_variable(host())

    def metric(name: str, expr: str = 'last("value")', by: str = '"host"') -> str:
        return (
            f'SELECT {expr} FROM "gateway" WHERE "host" =~ /^$host$/ AND "metric" = \'{name}\' '
            f"AND $timeFilter GROUP BY time($__interval), {by} fill(none)"
        )

    rate = 'non_negative_derivative(last("value"), 1s)'
    return (
        d.with_panel(
            graph(
                "Messages received per second 接收速率", metric("messages_received_total", rate), unit="reqps"
            )
        )
        .with_panel(
            graph(
                "Rejected per minute, by reason 拒收原因",
                metric("rejected_total", 'non_negative_derivative(last("value"), 1m)', '"reason"'),
                bars=True,
            )
        )
        .with_panel(graph("Spool depth (not yet in InfluxDB) 缓存积压", metric("spool_depth")))
        .with_panel(
            graph(
                "InfluxDB write latency, mean 写入延迟",
                metric(
                    "influx_write_seconds",
                    'non_negative_derivative(last("sum"), 1s) / non_negative_derivative(last("count"), 1s)',
                ),
                unit="s",
            )
        )
        .with_panel(graph("Points written per second 写入速率", metric("influx_points_written_total", rate)))
        .with_panel(graph("Notification outbox open 待送通知", metric("notify_outbox_open")))
        .with_panel(
            graph(
                "Alarm transitions per minute 告警变化",
                metric(
                    "alarm_transitions_total", 'non_negative_derivative(last("value"), 1m)', '"transition"'
                ),
                bars=True,
            )
        )
        .with_panel(graph("Broker connected 消息代理连接", metric("mqtt_connected")))
    )


ALL = (district, community, household_board, devices, response, orders, gateway)
