"""Every dashboard panel's query, run against a real InfluxDB seeded through the real pipeline.

Two hours of a simulated community (normal life, a gas leak, CO building up and hushed, a forced door, a
tampered detector) are published over a real Mosquitto to a real gateway, which stores readings, alarms,
notifications (one recipient unreachable) and the estate's state. Someone acknowledges a P2 alarm through
the signed link they were sent. Then each panel's InfluxQL, with its variables substituted as
Grafana would, must return series of the shape the panel expects.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from dashboards.generate import ROOT, render
from gateway import services
from simulators import estate, incidents
from simulators.fleet import publish_all
from simulators.world import World
from tests.notify.receivers import Receiver
from tests.support import GatewayProcess, influx_query, stored_count, wait_for

BOARDS = ROOT / "dashboards" / "guardian"
HOURS = 2


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("seeded")
    with (
        services.mosquitto(tmp / "mosquitto") as broker,
        services.influxd(tmp / "influxdb") as influx,
        Receiver() as hooks,
    ):
        services.wait_influx_ready(influx.port)
        registry = estate.small_estate(site="t1", buildings=2, units=2, households_per_unit=3)
        registry["grids"][0]["officers"][0]["notify"] = [f"json://127.0.0.1:{hooks.port}/officer"]
        registry["property"][0]["notify"] = [f"json://127.0.0.1:{services.free_port()}/closed"]
        for b in registry["buildings"]:
            for u in b["units"]:
                for h in u["households"]:
                    h["contacts"] = [
                        {"id": f"c-{h['id']}", "notify": [f"json://127.0.0.1:{hooks.port}/family"]}
                    ]
                    for r in h["residents"]:
                        r["notify"] = [f"json://127.0.0.1:{hooks.port}/resident"]
                    for sensor in h["sensors"]:
                        sensor["power"] = "battery"  # batteries report their charge; mains detectors do not
        path = tmp / "registry.yaml"
        path.write_text(estate.dump(registry))
        gw = GatewayProcess(
            registry=path,
            data_dir=tmp / "gw",
            mqtt_port=broker.port,
            influx_port=influx.port,
            extra_env={
                "GUARDIAN_INGEST__MAX_SKEW": "1e9",  # two hours of recorded device time
                "GUARDIAN_ALERTS__STATUS_SECONDS": "2",
                "GUARDIAN_ALERTS__STATS_SECONDS": "1",
                "GUARDIAN_INFLUX__BACKFILL_SECONDS": "1",
                "GUARDIAN_NOTIFY__MAX_ATTEMPTS": "2",
                "GUARDIAN_NOTIFY__BACKOFF_BASE": "0.2",
            },
        )
        now = time.time()
        start = now - HOURS * 3600
        world = World(registry, start, seed=3, mains_heartbeat=60.0)
        rng = np.random.default_rng(5)
        incidents.gas_leak(world, start + 1800, rng)
        incidents.co_build_up(world, start + 3000, rng)
        incidents.forced_door(world, start + 4200, rng)
        hushed = next(d for d in world.detectors if any(p.start >= start + 3000 for p in d.co))
        hushed.events.append((start + 3000 + 900, "hush"))
        tampered = next(d for d in world.detectors if d is not hushed)
        tampered.events.append((start + 5400, "tamper"))
        messages = world.window(start, now)
        gw.start()
        try:
            asyncio.run(
                publish_all(host="127.0.0.1", port=broker.port, messages=[(t, p) for _, t, p in messages])
            )
            readings = sum(1 for _, t, _ in messages if t.endswith("/telemetry"))
            wait_for(lambda: stored_count(influx.port) >= readings, 120, 0.5, "readings stored")
            # someone acknowledges a P2 alarm through the link in their message
            link = wait_for_value(
                lambda: _ack_link(hooks, "/ P2 "),
                60,
                "a P2 alarm sent with its acknowledgement link",
                lambda: [(r.path, r.status, r.body[:300]) for r in hooks.requests][:8],
            )
            request = urllib.request.Request(
                f"http://127.0.0.1:{gw.http_port}/api/v1/ack/{link}", method="POST"
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.status == 200
            wait_for(
                lambda: _rows(
                    influx.port, 'SELECT * FROM "events"."notification" WHERE "state" = \'failed\''
                ),
                90,
                0.5,
                "a failed delivery (the unreachable control room)",
            )
            wait_for(
                lambda: _rows(influx.port, 'SELECT * FROM "h1"."door_activity"'), 60, 0.5, "1-hour series"
            )
            wait_for(
                lambda: _rows(
                    influx.port,
                    'SELECT * FROM "events"."alarm" WHERE "transition" = \'acknowledged\' AND "severity" = \'P2\'',
                ),
                30,
                0.5,
                "the acknowledgement stored",
            )
            # the gateway's own metrics over at least three 10 s intervals, and a state after the acknowledgement
            wait_for(
                lambda: (
                    len(_rows(influx.port, 'SELECT "value" FROM "gateway" WHERE "metric" = \'spool_depth\''))
                    >= 35
                ),
                60,
                0.5,
                "35 s of gateway metrics",
            )
            yield {
                "influx": influx.port,
                "from": start - 600,
                "to": time.time() + 60,
                "household": tampered.id and _household_of(registry, tampered.id),
                "registry": registry,
            }
        finally:
            gw.stop()


def wait_for_value(get: Any, timeout: float, message: str, diagnose: Any = None) -> Any:
    box: list[Any] = []

    def ready() -> bool:
        value = get()
        if value:
            box.append(value)
        return bool(value)

    wait_for(ready, timeout, 0.5, message, diagnose)
    return box[0]


def _ack_link(hooks: Receiver, title: str) -> str | None:
    for r in hooks.at("/", 200):
        body = json.loads(r.body)
        text = f"{body.get('title', '')} {body.get('message', '')}"
        if title in text and "/ack/" in text:
            return re.search(r"/ack/([A-Za-z0-9_.\-]+)", text).group(1)  # type: ignore[union-attr]
    return None


def _household_of(registry: dict[str, Any], device: str) -> str:
    for b in registry["buildings"]:
        for u in b["units"]:
            for h in u["households"]:
                if any(s["id"] == device for s in h["sensors"]):
                    return str(h["id"])
    raise KeyError(device)


def _rows(port: int, q: str) -> list[Any]:
    return [v for s in influx_query(port, q) for v in s["values"]]


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
    assert len(boards) == 6
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
