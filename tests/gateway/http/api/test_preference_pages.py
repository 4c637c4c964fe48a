"""A resident sets her notification preferences in the app (real Chromium against a running gateway), and
the notifier, reading them from that gateway's store, follows them at 23:00: her P4 battery notice is not
sent (she opted out), another P4 waits for the end of her quiet hours, her P1 CO alarm goes at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
import zoneinfo
from pathlib import Path

from playwright.sync_api import Browser, expect

from alerts.rule import Audience, Severity
from alerts.signals import Where
from gateway.store.db import open_store, sqlite_url
from gateway.store.preferences import PreferenceTable
from tests.dashboards.test_report import ARTIFACTS
from tests.gateway.http.api.rig import Site, t1_registry
from tests.gateway.http.api.test_pages import sign_in
from tests.gateway.notify.receivers import Receiver
from tests.gateway.notify.rig import rig, transition

HOME = Where("t1", "b1", "b1-u1", "b1-u1-101")
ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")


def test_a_resident_opts_out_of_battery_notices_and_sets_quiet_hours(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    page = browser.new_page(
        viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True
    )
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{site.base}/app/")
    sign_in(page, "res1")
    form = page.locator("#prefs form.prefs")
    expect(form).to_be_visible(timeout=15000)
    expect(form).to_contain_text("我的免打扰时段")
    battery = form.locator('input[data-rule="HLT-3"]')
    expect(battery).to_be_checked()  # everything wanted until she says otherwise
    form.locator("#quiet-own").check()
    form.locator("#quiet-from").fill("22:00")
    form.locator("#quiet-to").fill("07:00")
    battery.uncheck()
    # apprise first: its "up" button, pressed until it leads
    while form.locator(".channel-order li").first.get_attribute("data-channel") != "apprise":
        form.locator('.channel-order li[data-channel="apprise"] button.up').click()
    form.locator("#prefs-save").click()
    expect(form.locator("#prefs-status")).to_have_text("已保存", timeout=15000)
    page.screenshot(path=str(ARTIFACTS / "resident-preferences.png"), full_page=True)
    saved = site.get("res1", "/api/v1/me/preferences").json()
    assert saved["quiet_hours"] == "22:00-07:00" and saved["opt_out"] == ["HLT-3"]
    assert saved["channels"][0] == "apprise" and saved["language"] == "zh"
    # a P1/P2 cannot even be offered as a box to untick
    assert form.locator('input[data-rule="CO-1"]').count() == 0
    page.reload()
    expect(page.locator('#prefs input[data-rule="HLT-3"]')).not_to_be_checked(timeout=15000)
    expect(page.locator("#quiet-from")).to_have_value("22:00")
    assert not errors, errors
    page.close()

    outcome: dict[str, object] = {}

    def decide() -> None:
        try:
            outcome.update(asyncio.run(at_23(site, tmp_path)))
        except BaseException as exc:  # shown by the assertion below, on the test's own thread
            outcome["error"] = repr(exc)

    thread = threading.Thread(target=decide)  # the sync browser API holds this thread's event loop
    thread.start()
    thread.join(90)
    assert site.put("res1", "/api/v1/me/preferences", json={}).status_code == 200  # as before the test
    assert outcome.get("ok") is True, outcome


async def at_23(site: Site, tmp_path: Path) -> dict[str, object]:
    """The notifier at 23:00 Changsha time, her preferences read from the gateway's own store."""
    night = dt.datetime(2027, 1, 15, 23, 0, tzinfo=ZONE).timestamp()
    morning = dt.datetime(2027, 1, 16, 7, 0, tzinfo=ZONE).timestamp()
    start = time.time()
    reg = t1_registry()
    async with open_store(sqlite_url(site.gw.data_dir / "guardian.sqlite3")) as store:
        with Receiver() as rx:
            her = reg["buildings"][0]["units"][0]["households"][0]["residents"][0]
            assert her["id"] == "p-00001"
            her["notify"] = [f"json://127.0.0.1:{rx.port}/apprise/p-00001"]
            async with rig(tmp_path, rx, reg, preferences=PreferenceTable(store).all, webhooks=[]) as r:
                r.notifier.clock = lambda: night + (time.time() - start)
                R = (Audience.RESIDENTS,)
                battery = transition("HLT-3", severity=Severity.P4, ts=night, notify=R, where=HOME)
                stuck = transition("HLT-5", severity=Severity.P4, ts=night, notify=R, where=HOME, n=1)
                co = transition("CO-1", ts=night, notify=R, where=HOME, n=2)
                r.emit([battery, stuck, co])
                await r.settle(lambda: bool(rx.at("/apprise/p-00001")))
                await asyncio.sleep(1.0)  # room for anything else that would (wrongly) go out
                await r.notifier.flush()
                told = rx.at("/apprise/p-00001")
                assert len(told) == 1 and "一氧化碳" in told[0].body.decode(), [q.body for q in told]
                [skipped] = await r.notifier.deliveries(battery.alarm_id)
                assert (skipped["state"], skipped["error"]) == ("cancelled", "opted out of HLT-3")
                held = await r.notifier.deliveries(stuck.alarm_id)
                assert held and all(d["next_at"] == morning and d["sent_at"] is None for d in held)
                assert held[0]["channel"] == "apprise"  # her channel order
    return {"ok": True}


def test_property_staff_edit_a_persons_preferences_in_the_console(site: Site, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{site.base}/console/")
    sign_in(page, "pm1")
    expect(page.locator("#prefs-title")).to_have_text("通知设置", timeout=15000)
    page.fill("#prefs-person", "p-00006")
    page.click("#prefs-load")
    form = page.locator("#staff-prefs form.prefs")
    expect(form).to_be_visible(timeout=15000)
    form.locator("#pref-language").select_option("en")
    form.locator('input[data-rule="DR-2"]').uncheck()
    form.locator("#prefs-save").click()
    expect(form.locator("#prefs-status")).to_have_text("已保存", timeout=15000)
    saved = site.get("admin", "/api/v1/sites/t1/people/p-00006/preferences").json()
    assert saved["language"] == "en" and saved["opt_out"] == ["DR-2"]
    page.fill("#prefs-person", "")  # empty: my own
    page.click("#prefs-load")
    expect(page.locator("#staff-prefs form.prefs")).to_be_visible(timeout=15000)
    assert not errors, errors
    page.close()
