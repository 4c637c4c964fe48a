"""The console's work-order board in Debian's Chromium on a phone: a gas alarm of half an hour ago has opened
an order for the property that nobody claimed in its fifteen minutes; the property's control room (pm1) sees
it among the overdue ones at the top, in words and with its place, claims it, starts, holds it with a reason,
resumes and resolves it with what was done, adds a photo of the job (a text file named .png is refused), and
the order's timeline shows each step. axe-core finds nothing serious on the board or the order. Screenshots go to test-artifacts/console-orders-*.png."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect

from tests.dashboards.test_report import ARTIFACTS
from tests.gateway.http.api.rig import Site
from tests.gateway.http.api.test_console import PHONE, axe, console
from tests.gateway.http.api.test_order_photos import png
from tests.support import wait_for

ORDERS = "/api/v1/work-orders"


def due(o: dict[str, Any]) -> float:
    return float(
        o["claim_due_ts"] if o["state"] in ("submitted", "accepted", "dispatched") else o["resolve_due_ts"]
    )


def test_the_property_works_an_overdue_order_from_the_board(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    raiser = threading.Thread(target=site.raise_alarm, args=("s-00004", "alarm_gas", "GAS-2", 1800.0))
    raiser.start()
    raiser.join(60)

    def job() -> list[dict[str, Any]]:
        items = site.get("pm1", ORDERS, params={"open": "true", "category": "gas_smell"}).json()["items"]
        return [o for o in items if o["device"] == "s-00004"]

    wait_for(lambda: len(job()) == 1, 30, message="the gas alarm's order")
    (order,) = job()
    assert order["state"] == "dispatched" and order["overdue"] == ["claim"]
    page, errors = console(site, browser, "pm1", **PHONE)
    row = page.locator(f'#order-board tr[data-order="{order["id"]}"]')
    expect(row).to_be_visible(timeout=15000)
    expect(row).to_have_class("late")
    expect(row.locator("td").first).to_have_text("P1 燃气异味")
    expect(row.locator("td.place")).to_have_text("Building 2 u1 102")
    expect(row.locator("td.state")).to_have_text("待接单")
    expect(row.locator("td.left")).to_contain_text("接单超时")
    expect(row.locator("td").nth(3)).to_have_text("物业")
    # overdue first, then the soonest due: the rows in the API's own figures
    shown = row.page.locator("#order-board tbody tr").evaluate_all("rs => rs.map(r => r.dataset.order)")
    api = {o["id"]: o for o in site.get("pm1", ORDERS, params={"open": "true", "limit": 200}).json()["items"]}
    listed = [api[i] for i in shown if i in api]
    assert listed and listed == sorted(listed, key=lambda o: (not o["overdue"], due(o))), [
        (o["id"], o["overdue"], due(o)) for o in listed
    ]
    headings = page.locator("#order-board thead th").all_inner_texts()
    assert headings[:6] == ["类别", "地点", "状态", "负责", "已过", "剩余时间"]
    assert axe(page) == []
    page.screenshot(path=str(ARTIFACTS / "console-orders-board.png"), full_page=True)

    row.locator("button.open").click()
    sheet = page.locator("dialog#order")
    expect(sheet.locator("#o-title")).to_have_text("P1 燃气异味")
    expect(sheet.locator("#o-where")).to_have_text("Building 2 u1 102")

    def step(action: str, state: str, text: str = "") -> None:
        if text:
            sheet.locator("#o-act textarea").fill(text)
        sheet.locator(f'#o-buttons button[data-action="{action}"]').click()
        expect(sheet).to_have_attribute("data-state", state, timeout=15000)

    step("claim", "claimed")
    sheet.locator('#o-buttons button[data-action="return"]').click()  # 退单 without a reason: said, not sent
    expect(sheet.locator("#o-error")).to_have_text("请先填写原因")
    step("start", "in_progress")
    step("hold", "on_hold", "等燃气公司带配件上门")
    expect(sheet.locator("#o-meta")).to_contain_text("暂停中")
    step("resume", "in_progress")
    step("resolve", "resolved", "更换灶前阀，检漏正常")
    expect(sheet.locator("#o-resolution")).to_have_text("处理结果：更换灶前阀，检漏正常")
    # the order was overdue: its clock's escalations (督办) are on the timeline among what people did
    timeline = sheet.locator("#o-events li:not([data-action=escalated])")
    expect(timeline).to_have_count(6)
    assert timeline.evaluate_all("ls => ls.map(l => l.dataset.action)") == [
        "open", "claim", "start", "hold", "resume", "resolve",
    ]  # fmt: skip
    expect(sheet.locator("#o-events li[data-action=escalated]").first).to_be_visible()
    expect(timeline.nth(0)).to_contain_text("报警生成")
    expect(timeline.nth(1)).to_contain_text("签收")
    expect(timeline.nth(3)).to_contain_text("暂停 · Estate control room：等燃气公司带配件上门")
    expect(timeline.nth(5)).to_contain_text("办结 · Estate control room：更换灶前阀，检漏正常")
    # a photo of the job done: a real PNG from the file picker, shown back from the API
    picture = tmp_path / "valve.png"
    picture.write_bytes(png())
    expect(sheet.locator("#o-photos")).to_contain_text("暂无照片")
    sheet.locator("#o-photo").set_input_files(str(picture))
    shot = sheet.locator("#o-photos img[data-photo]")
    expect(shot).to_have_count(1, timeout=15000)
    page.wait_for_function("() => document.querySelector('#o-photos img').naturalWidth === 1", timeout=10000)
    expect(timeline).to_have_count(7)
    expect(timeline.nth(6)).to_contain_text("添加照片 · Estate control room")
    sheet.locator("#o-photo").set_input_files(
        files=[{"name": "fake.png", "mimeType": "image/png", "buffer": b"not an image at all"}]
    )
    expect(sheet.locator("#o-photo-error")).to_have_text("不是 JPEG、PNG 或 WebP 图片")
    expect(shot).to_have_count(1)
    assert axe(page) == []
    page.screenshot(path=str(ARTIFACTS / "console-orders-detail.png"), full_page=True)
    sheet.locator("#o-close").click()
    expect(row).to_have_count(0, timeout=15000)  # done: off the board of open orders
    events = site.get("pm1", f"{ORDERS}/{order['id']}").json()["events"]
    people = [e for e in events if e["action"] != "escalated"]  # the clock's own events, by the system
    assert {e["actor"] for e in events if e["action"] == "escalated"} == {"guardian"}
    assert [(e["action"], e["actor"]) for e in people][1:] == [
        ("claim", "pm1"), ("start", "pm1"), ("hold", "pm1"), ("resume", "pm1"), ("resolve", "pm1"), ("photo", "pm1"),
    ]  # fmt: skip
    assert time.time() - people[0]["ts"] > 1700  # the clocks ran from the alarm's own time
    refused = "the server responded with a status of 415"  # the fake photo, refused as it should be
    assert [e for e in errors if refused not in e] == [], errors
    page.close()
