"""The pieces every Gas Guardian dashboard is built from: the data source, the template variables, InfluxQL
targets and a few panel shapes, so the six dashboards read as what they show rather than how.

Grafana's typed builders (grafana-foundation-sdk) have no InfluxDB query type, so `InfluxQL` supplies one:
a raw InfluxQL target, the form Grafana's InfluxQL data source stores when a query is written by hand.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm

from dashboards import DATASOURCE_UID

DATASOURCE = dm.DataSourceRef(type_val="influxdb", uid=DATASOURCE_UID)
TAGS = ["gas-guardian"]

LEVEL_COLOURS = ("green", "blue", "yellow", "orange", "red")
LEVEL_TEXT = (("OK", "正常"), ("P4", "P4 维护"), ("P3", "P3 关注"), ("P2", "P2 紧急"), ("P1", "P1 生命安全"))
"""`level` in the *_state measurements: 0 nothing open … 4 a P1 (alerts.status.level)."""


class _Target(variants.Dataquery):
    def __init__(self, ref_id: str, query: str, fmt: str) -> None:
        self.ref_id, self.query, self.fmt = ref_id, query, fmt

    def to_json(self) -> dict[str, Any]:
        return {
            "refId": self.ref_id,
            "datasource": DATASOURCE.to_json(),
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.fmt,
        }


class InfluxQL(cogbuilder.Builder[variants.Dataquery]):
    def __init__(self, query: str, *, ref_id: str = "A", table: bool = False) -> None:
        self._target = _Target(ref_id, " ".join(query.split()), "table" if table else "time_series")

    def build(self) -> variants.Dataquery:
        return self._target


# -- template variables -------------------------------------------------------------------------------


def _variable(name: str, label: str, query: str, *, multi: bool = True) -> db.QueryVariable:
    return (
        db.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(" ".join(query.split()))
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(multi)
    )


def site(*, multi: bool = True) -> db.QueryVariable:
    return _variable(
        "site", "Community 社区", 'SHOW TAG VALUES FROM "site_state" WITH KEY = "site"', multi=multi
    )


def grid() -> db.QueryVariable:
    return _variable(
        "grid",
        "Grid 网格",
        'SHOW TAG VALUES FROM "building_state" WITH KEY = "grid" WHERE "site" =~ /^$site$/',
    )


def building(*, multi: bool = True) -> db.QueryVariable:
    return _variable(
        "building",
        "Building 楼栋",
        'SHOW TAG VALUES FROM "building_state" WITH KEY = "building" WHERE "site" =~ /^$site$/ AND "grid" =~ /^$grid$/',
        multi=multi,
    )


def household() -> db.QueryVariable:
    return _variable(
        "household",
        "Household 住户",
        'SHOW TAG VALUES FROM "sensor_reading" WITH KEY = "household" '
        'WHERE "site" =~ /^$site$/ AND "grid" =~ /^$grid$/ AND "building" =~ /^$building$/',
        multi=False,
    )


def host() -> db.QueryVariable:
    return _variable("host", "Gateway 网关", 'SHOW TAG VALUES FROM "gateway" WITH KEY = "host"')


def device() -> db.QueryVariable:
    return _variable(
        "device",
        "Detector 探测器",
        'SHOW TAG VALUES FROM "sensor_reading" WITH KEY = "device" '
        'WHERE "site" =~ /^$site$/ AND "building" =~ /^$building$/ AND "household" =~ /^$household$/',
    )


SCOPE = '"site" =~ /^$site$/'
GRID_SCOPE = SCOPE + ' AND "grid" =~ /^$grid$/'
BUILDING_SCOPE = SCOPE + ' AND "building" =~ /^$building$/'
HOUSEHOLD_SCOPE = BUILDING_SCOPE + ' AND "household" =~ /^$household$/'


# -- links ----------------------------------------------------------------------------------------------


def link(title: str, uid: str, *, tooltip: str = "") -> db.DashboardLink:
    return (
        db.DashboardLink(title)
        .type(dm.DashboardLinkType.LINK)
        .url(f"/d/{uid}")
        .tooltip(tooltip or title)
        .include_vars(True)
        .keep_time(True)
    )


def data_link(title: str, uid: str, params: str) -> db.DashboardLink:
    """A click-through from a value: `params` names the variables to set from the clicked row or series."""
    return db.DashboardLink(title).url(f"/d/{uid}?{params}&${{__url_time_range}}")


# -- panels ---------------------------------------------------------------------------------------------


def _thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=v, color=c) for v, c in steps])
    )


def level_mappings() -> list[dm.ValueMapping]:
    return [
        dm.ValueMap(
            options={
                str(i): dm.ValueMappingResult(
                    text=f"{en} {zh.split()[-1]}" if i else f"{en} {zh}", color=c, index=i
                )
                for i, ((en, zh), c) in enumerate(zip(LEVEL_TEXT, LEVEL_COLOURS, strict=True))
            }
        )
    ]


def level_thresholds() -> db.ThresholdsConfig:
    return _thresholds((None, "green"), (1, "blue"), (2, "yellow"), (3, "orange"), (4, "red"))


def count_stat(
    title: str, query: str, *, warn_at: float = 1, colour: str = "orange", w: int = 4
) -> stat.Panel:
    """A single number: green at zero, `colour` from `warn_at` (unprotected households, P1 alarms…)."""
    return (
        _big_value(title, query, w=w, h=4)
        .thresholds(_thresholds((None, "green"), (warn_at, colour)))
        .no_value("0")
    )


def _big_value(title: str, query: str, *, w: int, h: int) -> stat.Panel:
    """Big coloured numbers, the newest value of each series."""
    return (
        stat.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .with_target(InfluxQL(query))
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .height(h)
        .span(w)
    )


def graph(
    title: str,
    *queries: str,
    unit: str = "short",
    w: int = 12,
    h: int = 8,
    lines: tuple[tuple[float, str], ...] = (),
    bars: bool = False,
    description: str = "",
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .height(h)
        .span(w)
    )
    for i, q in enumerate(queries):
        panel = panel.with_target(InfluxQL(q, ref_id=chr(ord("A") + i)))
    if lines:
        panel = panel.thresholds(_thresholds((None, "transparent"), *lines)).thresholds_style(
            cb.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE)
        )
    if bars:
        panel = (
            panel.draw_style(common.GraphDrawStyle.BARS)
            .fill_opacity(60)
            .stacking(cb.StackingConfig().mode(common.StackingMode.NORMAL))
        )
    return panel


def grid_table(
    title: str,
    query: str,
    *,
    w: int = 24,
    h: int = 8,
    links: list[cogbuilder.Builder[dm.DashboardLink]] | None = None,
) -> table.Panel:
    panel = (
        table.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .with_target(InfluxQL(query, table=True))
        # a query grouped by tags answers one frame per group: merged, they read as one table
        .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
        .height(h)
        .span(w)
    )
    if links:
        panel = panel.data_links(links)
    return panel


def tiles(
    title: str,
    query: str,
    *,
    w: int = 24,
    h: int = 8,
    links: list[cogbuilder.Builder[dm.DashboardLink]] | None = None,
) -> stat.Panel:
    """One coloured tile per series (building, household): its worst open alarm, named by its tag."""
    panel = (
        _big_value(title, query, w=w, h=h)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .mappings(level_mappings())
        .thresholds(level_thresholds())
    )
    if links:
        panel = panel.data_links(links)
    return panel
