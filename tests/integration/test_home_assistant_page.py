"""The resident app's "智能家居 Home Assistant" section on a phone-sized Debian Chromium, against a running
gateway with the bridge on and a second Mosquitto as her own broker (the estate of test_home_assistant.py):
res1 links the home she lives in through the page, sees it linked and connected, her broker keeps her
detector's discovery message retained; a port out of range gets the port's message in Chinese next to the
port; unlinking (after a second press) empties it on her broker. Her daughter, a family contact of the same
home, sees no such section. axe-core finds nothing serious; at 200 % text nothing scrolls sideways."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.dashboards.test_report import ARTIFACTS
from tests.gateway.http.api.rig import PASSWORD
from tests.gateway.http.api.test_resident_app import AXE, PHONE
from tests.integration.test_home_assistant import HA_PASSWORD, HA_USER, HOME, MINE, Estate, running_estate
from tests.support import wait_for

CONFIG = f"homeassistant/device/{MINE.object_id}/config"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    with running_estate(tmp_path_factory.mktemp("ha-page")) as e:
        yield e


def _open(e: Estate, browser: Browser, who: str, errors: list[str]) -> Page:
    page = browser.new_page(**PHONE)  # type: ignore[arg-type]
    page.on("pageerror", lambda err: errors.append(f"{who}: {err}"))
    page.goto(f"{e.base}/app/")
    page.fill("input[name=username]", who)
    page.fill("input[name=password]", PASSWORD)
    page.click("form#signin button[type=submit]")
    expect(page.locator("#orders form.report")).to_be_visible(timeout=30000)  # the page is filled
    return page


def _retained(e: Estate, topic: str) -> str | None:
    """What her broker gives a client subscribing now: the retained payload, or None when it keeps none."""
    done = subprocess.run(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(e.home.port), "-u", HA_USER, "-P", HA_PASSWORD,
         "-t", topic, "-C", "1", "-W", "1", "-F", "%j"],
        timeout=10, capture_output=True, check=False,
    )  # fmt: skip
    if not done.stdout.strip():
        return None
    payload: str = json.loads(done.stdout)["payload"]
    return payload


def _shot(page: Page, name: str) -> None:
    page.locator("#ha-box").scroll_into_view_if_needed()
    page.locator("#ha-box").screenshot(path=str(ARTIFACTS / f"resident-app-ha-{name}.png"))


def _audit(page: Page) -> None:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run('#ha-box', {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', "
        "'best-practice']})).violations.filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => [v.id, v.nodes.map(n => n.target)])"
    )
    assert found == [], found


def _at_200_percent(page: Page) -> None:
    """The phone's text at 200 %: nothing wider than the screen, the buttons on it and tall enough."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 32, "fixed": 26}})
    try:
        expect(page.locator("#ha-box h2")).to_have_css("font-size", "43.2px")  # 1.2rem of 112.5 % of 32 px
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"
        for value in page.locator("#ha .ha-status dd").all():  # a value never squeezed a letter a line
            box = value.bounding_box()
            assert box is not None and box["width"] >= 150, (value.inner_text(), box)
        for button in (
            page.locator("#ha form.ha-form button[type=submit]"),
            page.locator("#ha button.unlink"),
        ):
            button.scroll_into_view_if_needed()
            box = button.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
            assert box["height"] >= 48, box
        for name, part in (
            ("6-text-200-percent", ".ha-status"),
            ("6-text-200-percent-form", "form.ha-form [data-field=password]"),
        ):
            page.locator(f"#ha {part}").evaluate("e => e.scrollIntoView({block: 'start'})")
            page.screenshot(path=str(ARTIFACTS / f"resident-app-ha-{name}.png"))  # what the screen shows
    finally:
        cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 16, "fixed": 13}})


def test_she_links_her_home_to_home_assistant_and_unlinks_it(home: Estate, browser: Browser) -> None:
    errors: list[str] = []
    page = _open(home, browser, "res1", errors)
    try:
        box = page.locator("#ha-box")
        expect(box).to_be_visible()
        expect(box.locator(".ha-status")).to_contain_text("还没有绑定")
        expect(box).to_contain_text("只发送您家的报警器")
        form = box.locator("form.ha-form")
        expect(form.locator("input[name=discovery_prefix]")).to_have_value("homeassistant")
        expect(form.locator("input[name=port]")).to_have_value("1883")
        _shot(page, "1-not-linked")

        # a port out of range: the port's own message, Chinese first, and nothing stored
        form.locator("input[name=host]").fill("127.0.0.1")
        form.locator("input[name=port]").fill("70000")
        form.locator("input[name=username]").fill(HA_USER)
        form.locator("input[name=password]").fill(HA_PASSWORD)
        form.locator("button[type=submit]").click()
        said = form.locator("[data-error=port]")
        expect(said.locator(".pri")).to_have_text("端口应是 1 到 65535 之间的数字")
        expect(said.locator(".sec")).to_have_text("The port is a number from 1 to 65535")
        expect(form.locator("input[name=port]")).to_have_attribute("aria-invalid", "true")
        expect(form.locator("[data-error=host]")).to_be_empty()
        assert home.call("res1", "GET", HOME).json()["enrolled"] is False
        _shot(page, "2-bad-port")
        _audit(page)

        # the estate's own broker, by another name: refused, said next to the address
        form.locator("input[name=host]").fill("localhost")
        form.locator("input[name=port]").fill(str(home.district.port))
        form.locator("button[type=submit]").click()
        expect(form.locator("[data-error=host] .pri")).to_have_text(re.compile("这是小区自己的服务器"))
        expect(form.locator("[data-error=port]")).to_be_empty()
        form.locator("input[name=host]").fill("127.0.0.1")

        # her broker's real port but a mistyped password: linked, and the page says it cannot connect
        form.locator("input[name=port]").fill(str(home.home.port))
        form.locator("input[name=password]").fill("mistyped")
        form.locator("button[type=submit]").click()
        status = box.locator(".ha-status")
        expect(status).to_have_attribute("data-enrolled", "true", timeout=10000)
        expect(box.locator(".ha-down")).to_contain_text("暂时连不上您的服务器", timeout=15000)
        expect(box.locator(".ha-error")).to_contain_text("refused")
        expect(box.locator(".ha-said")).to_be_empty()  # no "saved: connecting" left beside it
        _shot(page, "3-cannot-connect")

        # changed to the right one: connected, her detector announced and kept on her broker
        box.locator(".ha-change summary").click()
        form.locator("input[name=password]").fill(HA_PASSWORD)
        form.locator("button[type=submit]").click()
        expect(status).to_contain_text("已绑定")
        expect(status).to_contain_text(str(home.home.port))
        expect(status).to_contain_text(HA_USER)
        assert HA_PASSWORD not in box.inner_text()
        link = home.call("res1", "GET", HOME).json()
        assert link["host"] == "127.0.0.1" and link["port"] == home.home.port and link["has_password"]
        wait_for(lambda: _retained(home, CONFIG), 15, 0.3, "her detector's discovery message retained")
        assert json.loads(_retained(home, CONFIG) or "{}")["dev"]["ids"], "a device Home Assistant can own"
        expect(box.locator(".ha-ok")).to_contain_text("已连接", timeout=15000)  # the page reads it again
        page.reload()  # and says so when opened afresh
        expect(box.locator(".ha-ok")).to_contain_text("已连接", timeout=30000)
        expect(box.locator("form.ha-form")).to_be_hidden()  # behind "change settings"
        box.locator(".ha-change summary").click()
        expect(box.locator("form.ha-form input[name=password]")).to_have_value("")
        expect(box.locator("form.ha-form")).to_contain_text("留空则保留原来的密码")
        _shot(page, "4-linked")
        _audit(page)
        _at_200_percent(page)

        # unlink: a second press, then the page says Home Assistant removes her devices
        box.locator("button.unlink").click()
        expect(box.locator(".ha-unlink [role=alert]")).to_contain_text("确定解除绑定吗")
        box.locator("button.unlink-no").click()
        assert home.call("res1", "GET", HOME).json()["enrolled"] is True, "cancel keeps the link"
        box.locator("button.unlink").click()
        box.locator("button.unlink-yes").click()
        expect(box.locator(".ha-said")).to_contain_text("Home Assistant 会移除您家的设备", timeout=10000)
        expect(box.locator(".ha-status")).to_have_attribute("data-enrolled", "false")
        assert home.call("res1", "GET", HOME).json()["enrolled"] is False
        wait_for(lambda: _retained(home, CONFIG) is None, 10, 0.3, "the discovery message removed")
        _shot(page, "5-unlinked")
        page.select_option("#lang", "en")  # English first
        expect(box.locator(".ha-status .pri")).to_have_text("Not linked")
        expect(box.locator(".ha-status .sec")).to_have_text("还没有绑定")
        assert errors == [], errors
    finally:
        page.close()


def test_a_family_contact_sees_no_home_assistant_section(home: Estate, browser: Browser) -> None:
    errors: list[str] = []
    page = _open(home, browser, "fam1", errors)
    try:
        expect(page.locator(".home")).to_have_count(1)  # her mother's home is there
        expect(page.locator("#ha-box")).to_be_hidden()
        expect(page.locator("#ha form")).to_have_count(0)
        assert errors == [], errors
    finally:
        page.close()
