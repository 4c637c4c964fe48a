"""The resident app and the control-room console in real headless Chromium (Debian's, driven by Playwright):
sign in, see an alarm appear live, acknowledge it, see the state change. Screenshots go to test-artifacts/."""

from __future__ import annotations

import base64
import datetime as dt
import threading
import zoneinfo
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.dashboards.test_report import ARTIFACTS
from tests.gateway.http.api.rig import PASSWORD, Site


def sign_in(page: Page, username: str) -> None:
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form#signin button[type=submit]")


def _push_subscription(site: Site, who: str) -> str:
    key = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).decode().rstrip("=")
    auth = base64.urlsafe_b64encode(b"\x02" * 16).decode().rstrip("=")
    sub = {"endpoint": "https://push.example/page", "keys": {"p256dh": key, "auth": auth}}
    r = site.post(who, "/api/v1/me/push-subscriptions", json={"subscription": sub, "agent": "Pixel"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def raise_in_background(site: Site, device: str, event: str, rule: str) -> dict[str, Any]:
    """Raised while the page is open and idle: it can only show up through the live stream."""
    out: dict[str, Any] = {}
    t = threading.Thread(target=lambda: out.update(site.raise_alarm(device, event, rule)))
    t.start()
    t.join(60)
    return out


def test_control_room_sees_an_alarm_live_and_acknowledges_it(site: Site, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{site.base}/console/")
    sign_in(page, "pm1")
    expect(page.locator("#live")).to_have_text("实时", timeout=15000)
    expect(page.locator("#board tbody tr")).to_have_count(2)  # b1 and b2

    alarm = raise_in_background(site, "s-00002", "alarm_gas", "GAS-2")
    card = page.locator(f'#alarms [data-alarm="{alarm["alarm_id"]}"]')
    expect(card).to_be_visible(timeout=15000)
    expect(card.locator(".state")).to_have_text("进行中")
    expect(card.locator(".title")).to_have_text("燃气泄漏（二级）")
    building = page.locator("#board tbody tr", has_text="Building 1")
    unacked = site.get("pm1", "/api/v1/alarms", params={"state": "open", "building": "b1"}).json()["items"]
    p1 = sum(a["severity"] == "P1" for a in unacked)
    expect(building.locator("td").first).to_have_text(str(p1))  # the first count, under P1
    page.screenshot(path=str(ARTIFACTS / "console-alarm-live.png"), full_page=True)

    card.locator("button.ack").click()
    expect(card.locator(".state")).to_have_text("已确认", timeout=15000)
    assert site.get("admin", f"/api/v1/alarms/{alarm['alarm_id']}").json()["acked_by"] == "t1/pm-1"
    # assign it to grid g1's officer, chosen from the site's staff
    card.locator("select.assignee").select_option("off1")
    card.locator("button.assign").click()
    expect(card.locator(".meta")).to_contain_text("off1", timeout=15000)
    assert site.get("admin", f"/api/v1/alarms/{alarm['alarm_id']}").json()["assignee"] == "off1"
    page.select_option("#lang", "en")
    expect(page.locator("h1")).to_have_text("Gas Guardian control room")
    page.screenshot(path=str(ARTIFACTS / "console-acknowledged.png"), full_page=True)
    assert not errors, errors
    page.close()


def test_resident_sees_home_manages_phones_and_goes_away(site: Site, browser: Browser) -> None:
    """The resident app's frame; a real incident through it is tests/gateway/http/api/test_resident_app.py."""
    page = browser.new_page(
        viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True
    )
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{site.base}/app/")
    sign_in(page, "res1")
    home = page.locator('#homes .home[data-household="b1-u1-101"]')
    expect(home.locator("h3")).to_contain_text("Building 1 · 1单元 · 101室", timeout=15000)
    expect(home.locator("ul.devices li")).to_contain_text("燃气和一氧化碳探测器")
    expect(page.locator("#live")).to_have_text("实时", timeout=15000)
    page.screenshot(path=str(ARTIFACTS / "resident-home.png"), full_page=True)

    # the phones receiving my alarms, with Remove
    phone = _push_subscription(site, "res1")
    page.reload()
    row = page.locator(f'#phones [data-phone="{phone}"]')
    expect(row).to_contain_text("Pixel", timeout=15000)
    row.locator("button").click()
    expect(row).to_have_count(0, timeout=15000)
    assert site.get("res1", "/api/v1/me/push-subscriptions").json()["items"] == []

    page.check("#away")
    page.wait_for_timeout(500)
    assert site.get("res1", "/api/v1/me").json()["away"] is True
    page.uncheck("#away")
    page.select_option("#lang", "en")
    expect(page.locator("[data-bi=away] .pri")).to_have_text("I'm away")
    expect(page.locator("#live")).to_have_text("live")
    page.screenshot(path=str(ARTIFACTS / "resident-english.png"), full_page=True)
    # nothing of the neighbours' household on this phone
    assert "b1-u1-102" not in page.content() and "s-00002" not in page.content()
    assert not errors, errors
    page.close()


def test_api_docs_render_with_no_request_leaving_the_machine(site: Site, browser: Browser) -> None:
    """Swagger UI's scripts come from the gateway itself: a control room offline, or behind the Great
    Firewall, still gets its API reference."""
    page = browser.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(site.base) else None)
    page.goto(f"{site.base}/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=15000)
    assert page.locator(".swagger-ui .opblock").count() > 10
    assert not outside, outside
    page.close()


EVERYONE = "Zhao, Sun \uff08未排班\uff0c通知全部\uff09"
"""Grid g1's officers (o-1, o-3) by name, all told: nobody rostered ("(nobody rostered: all are told)")."""


def test_control_room_adds_a_shift_and_sees_who_is_on_duty(site: Site, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1200}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{site.base}/console/")
    sign_in(page, "pm1")
    g1 = page.locator('#on-duty tr[data-duty="g1"] .people')
    expect(g1).to_have_text(EVERYONE, timeout=15000)
    now = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")).replace(second=0, microsecond=0, tzinfo=None)
    form = page.locator("#add-shift")
    form.locator("select[name=person]").select_option("officer|g1|o-3")
    form.locator("input[name=start]").fill((now - dt.timedelta(hours=1)).isoformat(timespec="minutes"))
    form.locator("input[name=end]").fill((now + dt.timedelta(hours=4)).isoformat(timespec="minutes"))
    form.locator("input[name=note]").fill("早班")
    form.locator("button[type=submit]").click()
    expect(g1).to_have_text("Sun", timeout=15000)  # o-3, by name
    row = page.locator("#shifts tbody tr", has_text="早班")
    expect(row).to_contain_text("Sun")
    on = site.get("admin", "/api/v1/sites/t1/duty/now").json()
    assert next(d for d in on if d["grid"] == "g1")["on_duty"] == ["o-3"]
    # the same person again over the same hours: refused, and the page says why
    form.locator("select[name=person]").select_option("officer|g1|o-3")
    form.locator("input[name=start]").fill(now.isoformat(timespec="minutes"))
    form.locator("input[name=end]").fill((now + dt.timedelta(hours=1)).isoformat(timespec="minutes"))
    form.locator("button[type=submit]").click()
    expect(page.locator("#shift-error")).to_contain_text("already on shift", timeout=15000)
    page.screenshot(path=str(ARTIFACTS / "console-roster.png"), full_page=True)
    row.locator("button.remove").click()
    expect(g1).to_have_text(EVERYONE, timeout=15000)
    assert not errors, errors
    page.close()
