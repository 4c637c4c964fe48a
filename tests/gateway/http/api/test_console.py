"""The control-room console in real headless Chromium (Debian's, driven by Playwright) against a running
gateway: a grid officer works a real incident on a phone from the first detector reading over MQTT to the
resolution; the board's counts stand under their headings; axe-core finds nothing serious; text at 200 %
still leaves the main buttons visible and clickable. Screenshots go to test-artifacts/console-*.png."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from simulators import scenarios as sc
from tests.dashboards.test_report import ARTIFACTS, chromium
from tests.gateway.http.api.rig import Site
from tests.gateway.http.api.test_pages import _push_subscription, raise_in_background, sign_in
from tests.support import ROOT, wait_for

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=chromium(), args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"]
        )
        try:
            yield b
        finally:
            b.close()


def console(site: Site, browser: Browser, who: str, **options: Any) -> tuple[Page, list[str]]:
    page = browser.new_page(locale="zh-CN", **({"viewport": {"width": 1280, "height": 900}} | options))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{site.base}/console/")
    sign_in(page, who)
    expect(page.locator("#live")).to_have_text("实时", timeout=15000)
    expect(page.locator("#board tbody tr").first).to_be_visible(timeout=15000)
    return page, errors


def by_header(page: Page, table: str, row: str) -> dict[str, dict[str, Any]]:
    """A row of a table read through its header: heading -> the cell's text, and whether the cell's text
    lies under the heading's text on screen (their horizontal extents overlap)."""
    out: dict[str, dict[str, Any]] = page.evaluate(
        """([table, row]) => {
            const box = el => { const r = document.createRange(); r.selectNodeContents(el); return r.getBoundingClientRect(); };
            const heads = [...document.querySelectorAll(`${table} thead th`)];
            const cells = [...document.querySelector(`${table} tbody ${row}`).children];
            return Object.fromEntries(heads.map((h, i) => {
                const a = box(h), b = box(cells[i]);
                return [h.textContent.trim(), { text: cells[i].textContent.trim(), under: a.left <= b.right && b.left <= a.right }];
            }));
        }""",
        [table, row],
    )
    return out


def publish(site: Site, messages: list[dict[str, Any]]) -> None:
    """Over MQTT from another thread: Playwright's sync API holds this one's event loop."""
    t = threading.Thread(target=site.publish, args=(messages,))
    t.start()
    t.join(60)


def api_alarm(site: Site, alarm_id: str) -> dict[str, Any]:
    r = site.get("admin", f"/api/v1/alarms/{alarm_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_an_officer_works_a_gas_leak_from_first_reading_to_resolution(site: Site, browser: Browser) -> None:
    """Grid g2's officer (Qian) on a phone: a leak in b2-u1-101 from its detector's own readings, sorted
    first with its Chinese title and place, heard and flashed; the detail with its evidence, the readings
    chart and who was told; a comment, an assignment, the acknowledgement; the readings fall back; resolved
    with a reason."""
    phone = _push_subscription(site, "res3")  # the resident's phone: the timeline has a delivery to show
    try:
        page, errors = console(site, browser, "off2", **PHONE)
        page.evaluate("localStorage.removeItem('sound')")  # the default: on
        now = time.time()
        leak = sc.readings(
            site="t1",
            device="s-00003",
            start=now - 900,
            end=now,
            gas=sc.step(1.0, 38.0, now - 240),
            interval=(8.0, 12.0),
            seq0=int(now) * 10,
        )
        publish(site, leak)
        found: list[dict[str, Any]] = []

        def raised() -> bool:
            r = site.get("off2", "/api/v1/alarms", params={"rule": "GAS-2", "state": "open"})
            found[:] = [a for a in r.json()["items"] if a["subject"] == "s-00003"]
            return bool(found)

        wait_for(raised, 30, 0.3, "GAS-2 raised by the readings", diagnose=site.gw.log_tail)
        alarm = found[0]
        assert (alarm["title_zh"], alarm["place_zh"]) == ("燃气泄漏（二级）", "Building 2 u1 101")
        card = page.locator(f'#alarms article.alarm[data-alarm="{alarm["alarm_id"]}"]')
        expect(card).to_be_visible(timeout=15000)
        # most severe first, newest first within a severity: first of all unless another test left a newer P1
        ids = page.locator("#alarms article.alarm").evaluate_all("cs => cs.map(c => c.dataset.alarm)")
        api = {
            a["alarm_id"]: a
            for a in site.get("off2", "/api/v1/alarms", params={"state": "open"}).json()["items"]
        }
        shown = [api[i] for i in ids if i in api]
        assert shown == sorted(shown, key=lambda a: (a["severity"], -a["raised_ts"]))
        ahead = shown[: [a["alarm_id"] for a in shown].index(alarm["alarm_id"])]
        assert all(a["severity"] == "P1" and a["raised_ts"] >= alarm["raised_ts"] for a in ahead), ahead
        first = card
        expect(first.locator(".title")).to_have_text("燃气泄漏（二级）")
        expect(first.locator(".where")).to_have_text("Building 2 u1 101")
        expect(first.locator(".state")).to_have_text("进行中")
        page.wait_for_function("document.body.dataset.lastChime === 'P1'", timeout=5000)
        page.wait_for_function("document.title.startsWith('【新P1报警】')", timeout=5000)
        # one incident per hazard in a home: the leak's lesser alarms (GAS-1, GAS-3) sit under its worst
        others: list[dict[str, Any]] = []

        def joined() -> bool:
            r = site.get("off2", "/api/v1/alarms", params={"state": "open", "household": alarm["household"]})
            others[:] = [
                a for a in r.json()["items"] if a["family"] == "gas" and a["alarm_id"] != alarm["alarm_id"]
            ]
            return bool(others)

        wait_for(joined, 30, 0.3, "the leak's other gas alarms", diagnose=site.gw.log_tail)
        for other in others:
            expect(card.locator(f'.members li[data-alarm="{other["alarm_id"]}"]')).to_be_visible(
                timeout=15000
            )
            expect(page.locator(f'#alarms article.alarm[data-alarm="{other["alarm_id"]}"]')).to_have_count(0)
        assert card.get_attribute("data-incident")
        page.screenshot(path=str(ARTIFACTS / "console-incident-1-raised.png"), full_page=True)

        first.locator("button.open").click()
        detail = page.locator("dialog#detail")
        expect(detail).to_be_visible()
        expect(detail.locator("#d-title")).to_have_text("P1 燃气泄漏（二级）")
        expect(detail.locator("#d-action")).to_have_text("立即撤离，勿动电器开关，到室外拨打119。")
        assert not page.evaluate("document.title").startswith("【新P1报警】"), "opening it stops the flash"
        chart = detail.locator('svg.chart[data-field="gas_lel"] polyline[data-device="s-00003"]')
        expect(chart).to_be_visible(timeout=15000)
        plotted = len(chart.get_attribute("points").split())  # type: ignore[union-attr]
        readings = site.get("off2", f"/api/v1/alarms/{alarm['alarm_id']}/readings").json()["readings"]
        assert plotted == len(readings) > 20
        assert detail.locator("#d-evidence li").count() >= 1
        expect(detail.locator("#d-evidence")).to_contain_text("读数：燃气浓度")  # what the rule saw, by name
        expect(detail.locator("#d-evidence")).to_contain_text("%LEL")
        told = detail.locator('#d-timeline tbody tr[data-channel="webpush"]').first
        expect(told).to_contain_text("p-00005（住户）", timeout=15000)
        expect(told).to_contain_text("手机推送")

        detail.locator("#d-comment textarea").fill("已电话联系住户，正在上门")
        detail.locator("#d-comment button").click()
        expect(detail.locator('#d-history li[data-kind="comment"]')).to_contain_text(
            "Qian：已电话联系住户，正在上门", timeout=15000
        )
        detail.locator("#d-assignee").select_option("off2")
        detail.locator("#d-assign").click()
        wait_for(lambda: api_alarm(site, alarm["alarm_id"])["assignee"] == "off2", 15, 0.3, "assigned")
        expect(detail.locator("#d-resolve button")).to_be_disabled()  # the gas is still there
        detail.locator("#d-ack").click()
        expect(detail.locator("#d-meta")).to_contain_text("已确认：Qian", timeout=15000)
        assert api_alarm(site, alarm["alarm_id"])["acked_by"] == "t1/o-2"
        expect(detail.locator("#d-resolve-hint")).to_contain_text("险情仍在")
        page.screenshot(path=str(ARTIFACTS / "console-incident-2-detail.png"))

        # the valve closed and the flat aired: the detector reads clean air for longer than the release hold
        clear = sc.readings(
            site="t1",
            device="s-00003",
            start=now + 1,
            end=now + 150,
            gas=lambda t: 0.5,
            interval=(8.0, 12.0),
            seq0=int(now) * 10 + 500,
        )
        publish(site, clear)
        wait_for(lambda: api_alarm(site, alarm["alarm_id"])["state"] == "closed", 30, 0.3, "GAS-2 cleared")
        expect(detail.locator("#d-meta")).to_contain_text("已恢复", timeout=15000)
        expect(detail.locator("#d-resolve button")).to_be_enabled()
        detail.locator("#d-resolve textarea").fill("灶具阀门未关紧，已关阀通风，复测正常")
        detail.locator("#d-resolve button").click()
        expect(detail.locator("#d-meta")).to_contain_text("已结案", timeout=15000)
        done = api_alarm(site, alarm["alarm_id"])
        assert (done["state"], done["resolved_by"]) == ("resolved", "off2")
        assert any(h["kind"] == "resolved" and "阀门" in h["note"] for h in done["history"])
        expect(detail.locator('#d-history li[data-kind="resolved"]')).to_contain_text("灶具阀门未关紧")
        expect(detail.locator("#d-history li").first).to_contain_text("报警 · 系统")
        page.screenshot(path=str(ARTIFACTS / "console-incident-3-resolved.png"))
        detail.locator("#d-close").click()
        expect(page.locator(f'#alarms [data-alarm="{alarm["alarm_id"]}"]')).to_have_count(0, timeout=15000)
        page.screenshot(path=str(ARTIFACTS / "console-phone.png"), full_page=True)
    finally:  # the same push endpoint serves other tests' phones
        site.delete("res3", f"/api/v1/me/push-subscriptions/{phone}")
    assert not errors, errors
    page.close()


def test_sound_is_switchable_and_remembered(site: Site, browser: Browser) -> None:
    page, errors = console(site, browser, "pm1")
    page.locator("#sound").click()
    expect(page.locator("#sound")).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("localStorage.getItem('sound')") == "off"
    page.reload()
    expect(page.locator("#sound")).to_have_text("提示音：关", timeout=15000)
    chimes = page.evaluate("document.body.dataset.chimes || '0'")
    page.locator("#sound").click()  # on again: it plays once so the staff hear what it sounds like
    expect(page.locator("#sound")).to_have_attribute("aria-pressed", "true")
    assert int(page.evaluate("document.body.dataset.chimes")) == int(chimes) + 1
    assert not errors, errors
    page.close()


def test_board_counts_stand_under_their_headings(site: Site, browser: Browser) -> None:
    alarm = raise_in_background(site, "s-00001", "alarm_gas", "GAS-2")
    page, errors = console(site, browser, "pm1")
    counts = site.get("pm1", "/api/v1/sites/t1/buildings/b1").json()["open_alarms"]
    expect(page.locator('#board tr[data-building="b1"] td').first).to_have_text(str(counts[0]))
    row = by_header(page, "#board", 'tr[data-building="b1"]')
    headings = ["楼栋", "P1", "P2", "P3", "P4", "未确认", "关怀待查"]
    assert list(row) == headings
    assert row["楼栋"]["text"] == "Building 1"
    assert [row[h]["text"] for h in headings[1:]] == [str(n) for n in counts]
    assert counts[0] >= 1 and row["P1"]["text"] == str(counts[0])
    misplaced = [h for h in headings if not row[h]["under"]]
    assert not misplaced, f"counts not under their headings: {misplaced}"
    # the filters: grid g2 shows only its building and none of b1's alarms
    page.select_option("#f-grid", "t1/g2")
    expect(page.locator("#board tbody tr")).to_have_count(1)
    expect(page.locator('#board tr[data-building="b2"]')).to_have_count(1)
    expect(page.locator(f'#alarms [data-alarm="{alarm["alarm_id"]}"]')).to_have_count(0)
    page.select_option("#f-grid", "")
    page.select_option("#f-building", "b1")
    expect(page.locator(f'#alarms [data-alarm="{alarm["alarm_id"]}"]')).to_have_count(1)
    expect(page.locator("#board tbody tr")).to_have_count(1)
    page.reload()  # the filter is remembered
    expect(page.locator("#f-building")).to_have_value("b1", timeout=15000)
    page.select_option("#f-building", "")
    expect(page.locator("#board tbody tr")).to_have_count(2)
    expect(page.locator("#on-duty tbody tr").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "console-board.png"), full_page=True)
    assert not errors, errors
    page.close()


def test_unprotected_households_say_why_in_chinese(site: Site, browser: Browser) -> None:
    publish(site, [sc.event("t1", "s-00004", time.time(), "fault", seq=int(time.time()))])
    wait_for(
        lambda: any(
            h["id"] == "b2-u1-102"
            for h in site.get("pm1", "/api/v1/sites/t1/households", params={"unprotected": "true"}).json()[
                "items"
            ]
        ),
        20,
        0.3,
        "the faulty detector's household unprotected",
    )
    page, errors = console(site, browser, "pm1")
    row = page.locator('#unprotected tr[data-household="b2-u1-102"]')
    expect(row).to_contain_text("一氧化碳：s-00004 故障", timeout=20000)
    expect(row.locator("td").first).to_have_text("Building 2 u1 102")
    page.screenshot(path=str(ARTIFACTS / "console-unprotected.png"), full_page=True)
    publish(site, [sc.event("t1", "s-00004", time.time(), "self_test_ok", seq=int(time.time()) + 1)])
    assert not errors, errors
    page.close()


def axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it stands."""
    assert AXE.is_file(), f"{AXE} is missing: scripts/bootstrap.sh installs it (make setup)"
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ["violations"] })).violations
            .filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5) }))"""
    )
    return found


@pytest.mark.parametrize("layout", ["desktop", "phone"])
def test_console_has_no_serious_accessibility_violations(site: Site, browser: Browser, layout: str) -> None:
    raise_in_background(site, "s-00001", "alarm_gas", "GAS-2")
    page, errors = console(site, browser, "pm1", **(PHONE if layout == "phone" else {}))
    expect(page.locator("#alarms article.alarm").first).to_be_visible(timeout=15000)
    assert axe(page) == []
    page.locator("#alarms article.alarm button.open").first.click()
    expect(page.locator("dialog#detail #d-title")).not_to_be_empty(timeout=15000)
    assert axe(page) == []
    page.locator("#d-close").click()
    page.locator("#signout").click()
    expect(page.locator("#signin")).to_be_visible()
    assert axe(page) == []
    assert not errors, errors
    page.close()


ZOOMED: dict[str, dict[str, Any]] = {
    # a desktop browser zoomed to 200 %: half the CSS pixels, each drawn twice as large
    "desktop": {"viewport": {"width": 640, "height": 450}, "device_scale_factor": 2},
    # a phone's text size set to 200 % in its accessibility settings: the text alone grows
    "phone": PHONE,
}


@pytest.mark.parametrize("layout", list(ZOOMED))
def test_text_at_200_percent_keeps_the_main_buttons_usable(site: Site, browser: Browser, layout: str) -> None:
    raise_in_background(site, "s-00001", "alarm_gas", "GAS-2")
    page, errors = console(site, browser, "pm1", **ZOOMED[layout])
    if layout == "phone":
        page.evaluate("document.documentElement.style.fontSize = '34px'  // the page's 17 px, doubled")
    width = page.evaluate("document.documentElement.clientWidth")
    card = page.locator("#alarms article.alarm").first
    buttons = [card.locator(s) for s in ("button.ack", "button.open", "select.assignee", "button.assign")]
    buttons += [page.locator(s) for s in ("#sound", "#lang", "#signout", "#f-grid", "#f-building")]
    boxes = []
    for b in buttons:
        b.scroll_into_view_if_needed()
        expect(b).to_be_visible()
        b.click(trial=True)  # Playwright's actionability: visible, stable, enabled, not covered by another
        box = b.evaluate(  # in page coordinates: scrolling between two buttons must not move them
            "e => { const r = e.getBoundingClientRect(), y = window.scrollY;"
            " return [r.left, r.top + y, r.right, r.bottom + y]; }"
        )
        assert box[0] >= 0 and box[2] <= width + 1, f"{b} clipped at the sides: {box} in {width}"
        boxes.append(box)
    for i, a in enumerate(boxes[:4]):
        for b in boxes[i + 1 : 4]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], f"overlap {a} {b}"
    page.screenshot(path=str(ARTIFACTS / f"console-200pct-{layout}.png"), full_page=True)
    card.locator("button.open").click()
    detail = page.locator("dialog#detail")
    expect(detail).to_be_visible()
    for s in ("#d-close", "#d-assign", "#d-comment button"):
        detail.locator(s).scroll_into_view_if_needed()
        detail.locator(s).click(trial=True)
    page.screenshot(path=str(ARTIFACTS / f"console-200pct-{layout}-detail.png"))
    detail.locator("#d-close").click()
    expect(detail).to_be_hidden()
    assert not errors, errors
    page.close()
