"""`guardian report` over the seeded community (conftest), then looked at in real headless Chromium."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import sync_playwright

from gateway.ops.report import day_bounds
from tests.support import ROOT, influx_query

ARTIFACTS = Path(os.environ.get("GUARDIAN_TEST_ARTIFACTS", ROOT / "test-artifacts"))
ZONE = ZoneInfo("Asia/Shanghai")


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "Chromium is missing: scripts/bootstrap.sh installs the Debian package `chromium`"
    return path


def test_daily_report_renders_real_data_in_chromium(seeded: dict[str, Any], tmp_path: Path) -> None:
    day = dt.datetime.fromtimestamp(seeded["gas_leak_at"], ZONE).date()
    out = tmp_path / "report.html"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDIAN_")}
    env.update(
        GUARDIAN_REGISTRY=str(seeded["registry_path"]),
        GUARDIAN_INFLUX__URL=f"http://127.0.0.1:{seeded['influx']}",
    )
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "report", "--site", "t1", "--day", day.isoformat(), "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    html = out.read_text(encoding="utf-8")
    assert "社区安全日报" in html and "community safety report" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', ""), (
        "the report must stand alone"
    )

    # what the report must show, straight from InfluxDB for the same local day
    start, end = day_bounds(day, ZONE)
    raised = [
        row
        for s in influx_query(
            seeded["influx"],
            f'SELECT "rule", "alarm_id" FROM "events"."alarm" WHERE "transition" = \'raised\' '
            f"AND time >= {int(start)}s AND time < {int(end)}s",
        )
        for row in s["values"]
    ]
    incidents = [r for r in raised if not r[1].startswith("WEL-")]
    assert any(r[1] == "GAS-1" for r in raised), "the gas leak of the seeded day"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            page.goto(out.as_uri())
            widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth)")
            assert widths == [720, 720, 720], f"every chart decodes as an image: {widths}"
            rows = page.locator("#incidents tbody tr").count()
            assert rows == len(incidents), (rows, incidents)
            assert page.locator("#incidents .sev.P2").count() >= 1
            # the tampered detector leaves its household unprotected: listed if the gateway's state lines
            # of that day say so (they are written at wall time, so near midnight in China the recorded
            # tamper and the state lines can fall on different days)
            unprotected = influx_query(
                seeded["influx"],
                f'SELECT first("unprotected") FROM "household_state" WHERE "unprotected" = 1 '
                f'AND time >= {int(start)}s AND time < {int(end)}s GROUP BY "household"',
            )
            assert (page.locator("#unprotected tbody tr").count() >= 1) == bool(unprotected)
            assert bool(unprotected) or not start <= seeded["tampered_at"] < time.time() < end
            assert "Acknowledged" in page.inner_text("#incidents thead")
            # the work orders claimed and resolved that day, one row per category and team (the seeded orders
            # are worked at wall time: near midnight in China that can be the next day)
            worked = influx_query(
                seeded["influx"],
                'SELECT count("order_id") FROM "events"."work_order" WHERE ("action" = \'claim\' OR '
                f'"action" = \'resolve\') AND time >= {int(start)}s AND time < {int(end)}s GROUP BY "category", "team"',
            )
            assert page.locator("#orders tbody tr").count() == len(worked)
            if worked:
                first = page.locator("#orders tbody tr").first.inner_text()
                assert "物业" in first and (
                    "探测器故障" in first or "燃气异味" in first or "其他" in first
                ), first
            else:
                assert not start <= time.time() < end
            cards = page.locator("#summary .card").all_inner_texts()
            assert any(c.startswith(f"{len(raised)}\n") for c in cards), cards
            page.screenshot(path=str(ARTIFACTS / "daily-report.png"), full_page=True)
        finally:
            browser.close()
