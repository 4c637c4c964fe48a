"""Every dashboard panel's query, run against a real InfluxDB seeded through the real pipeline (conftest):
each panel's InfluxQL, with its variables substituted as Grafana would, must return series of the shape
the panel expects."""

from __future__ import annotations

import json
import re
import socket
from typing import Any

import pytest

from dashboards.generate import ROOT, render
from tests.support import influx_query

BOARDS = ROOT / "dashboards" / "guardian"


def _boards() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(BOARDS.glob("*.json"))]


def _targets() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (board["uid"], panel["title"], target)
        for board in _boards()
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]


def test_committed_dashboards_are_what_the_code_generates() -> None:
    for rel, text in render().items():
        path = ROOT / rel
        assert path.exists(), f"{rel} missing: run `python -m dashboards`"
        assert path.read_text(encoding="utf-8") == text, (
            f"{rel} differs from the code: run `python -m dashboards`"
        )
    generated = {ROOT / rel for rel in render()}
    assert {p for p in ROOT.rglob("*") if p.is_file()} == generated, "stale files in dashboards/provisioning"


def test_dashboards_link_to_each_other_and_use_the_provisioned_source() -> None:
    boards = _boards()
    uids = {b["uid"] for b in boards}
    assert len(boards) == 7
    for b in boards:
        assert {link["url"].removeprefix("/d/") for link in b["links"]} == uids
        for p in b["panels"]:
            assert p["datasource"]["uid"] == "guardian-influxdb", (b["uid"], p["title"])
        names = [v["name"] for v in b["templating"]["list"]]
        assert names, b["uid"]
    assert "uid: guardian-influxdb" in (ROOT / "datasources" / "guardian.yaml").read_text()


def _substitute(query: str, seeded: dict[str, Any], single: set[str]) -> str:
    reg = seeded["registry"]
    household = seeded["household"]
    building = household.split("-")[0]
    devices = [
        s["id"]
        for b in reg["buildings"]
        for u in b["units"]
        for h in u["households"]
        if h["id"] == household
        for s in h["sensors"]
    ]
    values = {
        "site": ["t1"],
        "grid": ["g1"],
        "building": [building] if "building" in single else [b["id"] for b in reg["buildings"]],
        "household": [household],
        "device": devices,
        "host": [socket.gethostname()],
    }
    q = query.replace(
        "$timeFilter", f"time >= {int(seeded['from'] * 1000)}ms and time <= {int(seeded['to'] * 1000)}ms"
    )
    q = q.replace("$__interval", "10s")
    for name, vals in values.items():
        # Grafana's InfluxDB data source writes a multi-value variable inside a regex as (a|b)
        q = q.replace(f"${name}", vals[0] if len(vals) == 1 else "(" + "|".join(vals) + ")")
    assert not re.search(r"\$[A-Za-z_{]", q), q
    return q


def _outer(q: str) -> str:
    """The query without its subquery: the outer GROUP BY is what shapes the series."""
    start = q.find("FROM (")
    if start < 0:
        return q
    depth = 0
    for i in range(start + 5, len(q)):
        depth += {"(": 1, ")": -1}.get(q[i], 0)
        if depth == 0:
            return q[:start] + q[i + 1 :]
    raise AssertionError(f"unbalanced: {q}")


_ALIAS = re.compile(r'AS "([^"]+)"')
_GROUP_TAGS = re.compile(r'GROUP BY (?:time\([^)]*\), )?((?:"[a-z_]+"(?:, )?)+)')


@pytest.mark.parametrize(
    ("uid", "title", "target"), [pytest.param(*t, id=f"{t[0]}-{i}") for i, t in enumerate(_targets())]
)
def test_panel_query_returns_series_of_its_shape(
    seeded: dict[str, Any], uid: str, title: str, target: dict[str, Any]
) -> None:
    board = next(b for b in _boards() if b["uid"] == uid)
    single = {v["name"] for v in board["templating"]["list"] if not v.get("multi")}
    q = _substitute(target["query"], seeded, single)
    series = influx_query(seeded["influx"], q)
    assert series, f"{uid} / {title}: no data for\n{q}"
    outer = _outer(q)
    tags = re.findall(r'"([a-z_]+)"', m.group(1)) if (m := _GROUP_TAGS.search(outer)) else []
    aliases = [a for a in _ALIAS.findall(q.split(" FROM ", 1)[0])]
    for s in series:
        assert s["columns"][0] == "time", s["columns"]
        for tag in tags:
            assert tag in s.get("tags", {}), f"{title}: series without its {tag!r} tag: {s.get('tags')}"
        for alias in aliases:
            assert alias in s["columns"], f"{title}: column {alias!r} missing from {s['columns']}"
        values = [v for row in s["values"] for v in row[1:] if v is not None]
        assert values, f"{title}: only nulls in {s}"
        if target["resultFormat"] == "time_series":
            assert any(isinstance(v, int | float) for v in values), (
                f"{title}: nothing to plot in {s['values'][:3]}"
            )


@pytest.mark.parametrize("board", [p.stem for p in sorted(BOARDS.glob("*.json"))])
def test_template_variables_offer_values(seeded: dict[str, Any], board: str) -> None:
    b = json.loads((BOARDS / f"{board}.json").read_text())
    for v in b["templating"]["list"]:
        q = _substitute(v["query"], seeded, set())
        values = [row[1] for s in influx_query(seeded["influx"], q) for row in s["values"]]
        assert values, f"{board}: variable {v['name']} offers nothing:\n{q}"
