"""The VictoriaMetrics dashboard (dashboards/victoria.py): committed as generated, and every panel's MetricsQL
and every variable, substituted as Grafana would, answers data from a real VictoriaMetrics holding two hours
of a community's readings written through the gateway's writer."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from dashboards import victoria
from dashboards.generate import VM_ROOT
from gateway.ops import services
from sensors import compile_index, parse_registry
from simulators import estate
from tests.support import vm_query, wait_for
from tests.victoria import lines, settings, write

BOARDS = VM_ROOT / "dashboards" / "guardian-victoriametrics"
HOURS = 2
STEP_S = 300


def _boards() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(BOARDS.glob("*.json"))]


def test_committed_victoriametrics_dashboards_are_what_the_code_generates() -> None:
    files = victoria.render()
    for rel, text in files.items():
        path = VM_ROOT / rel
        assert path.exists(), f"{rel} missing: run `python -m dashboards`"
        assert path.read_text(encoding="utf-8") == text, f"{rel} differs: run `python -m dashboards`"
    assert {p for p in VM_ROOT.rglob("*") if p.is_file()} == {VM_ROOT / rel for rel in files}
    for board in _boards():
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == victoria.DATASOURCE_UID
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == victoria.DATASOURCE_UID
    assert (
        f"uid: {victoria.DATASOURCE_UID}"
        in (VM_ROOT / "datasources" / "guardian-victoriametrics.yaml").read_text()
    )


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two hours of readings of every detector of two buildings, one every 5 minutes, CO rising in one."""
    tmp = tmp_path_factory.mktemp("vm-dashboards")
    registry = estate.small_estate(site="t1", buildings=2, units=2, households_per_unit=2)
    index = compile_index([parse_registry(estate.dump(registry))])
    now = time.time()
    start = now - HOURS * 3600
    rng = np.random.default_rng(7)
    readings = [
        (
            device,
            round(start + k * STEP_S + rng.uniform(0, 60), 3),
            k,
            {"co_ppm": round(float(rng.uniform(0, 5)) + (k if i == 0 else 0), 2), "gas_lel": 0.5},
        )
        for i, device in enumerate(estate.sensor_ids(registry))
        for k in range(HOURS * 3600 // STEP_S)
    ]
    with services.victoria_metrics(tmp / "victoria-metrics") as server:
        services.wait_victoria_ready(server.port)
        asyncio.run(write(tmp, settings(server.port), lines(readings, now, index), index))
        wait_for(
            lambda: vm_query(server.port, "/api/v1/query", query='count(sensor_reading_seq{db="guardian"})'),
            15,
        )
        yield {
            "port": server.port,
            "registry": registry,
            "from": start - 600,
            "to": now + 60,
        }


def _substitute(query: str, stored: dict[str, Any]) -> str:
    buildings = [b["id"] for b in stored["registry"]["buildings"]]
    values = {"site": "t1", "grid": "g1", "building": "(" + "|".join(buildings) + ")"}
    q = query.replace("$__interval", "60s").replace("$__range", f"{HOURS * 3600}s")
    for name, value in values.items():
        q = q.replace(f"${name}", value)
    assert not re.search(r"\$[A-Za-z_{]", q), q
    return q


def _targets() -> list[tuple[str, dict[str, Any]]]:
    return [(panel["title"], t) for b in _boards() for panel in b["panels"] for t in panel["targets"]]


@pytest.mark.parametrize(("title", "target"), [pytest.param(*t, id=t[0]) for t in _targets()])
def test_panel_metricsql_returns_a_series_per_building(
    stored: dict[str, Any], title: str, target: dict[str, Any]
) -> None:
    q = _substitute(target["expr"], stored)
    step = {"1h": "3600"}.get(target.get("interval", ""), "60")
    series = vm_query(
        stored["port"],
        "/api/v1/query_range",
        query=q,
        start=f"{stored['from']:.3f}",
        end=f"{stored['to']:.3f}",
        step=step,
    )
    buildings = {b["id"] for b in stored["registry"]["buildings"]}
    assert {s["metric"].get("building") for s in series} == buildings, f"{title}: {q}\n{series}"
    for s in series:
        values = [float(v) for _t, v in s["values"]]
        assert values and all(np.isfinite(values)), (title, s)
    if "CO" in title:
        # the rising building's highest is the detector whose CO climbs by 1 ppm a reading
        top = max(float(v) for s in series for _t, v in s["values"])
        assert top >= HOURS * 3600 // STEP_S - 1, (title, top)


@pytest.mark.parametrize("board", [p.stem for p in sorted(BOARDS.glob("*.json"))])
def test_victoriametrics_variables_offer_values(stored: dict[str, Any], board: str) -> None:
    b = json.loads((BOARDS / f"{board}.json").read_text())
    for v in b["templating"]["list"]:
        m = re.fullmatch(r"label_values\((.+), (\w+)\)", v["query"])
        assert m, v["query"]
        selector, label = _substitute(m.group(1), stored), m.group(2)
        url_params = {"match[]": selector, "start": f"{stored['from']:.3f}", "end": f"{stored['to']:.3f}"}
        url = f"http://127.0.0.1:{stored['port']}/api/v1/label/{label}/values?" + urllib.parse.urlencode(
            url_params
        )
        with urllib.request.urlopen(url, timeout=10) as r:
            values = json.loads(r.read())["data"]
        assert values, f"{board}: variable {v['name']} offers nothing for {selector}"
