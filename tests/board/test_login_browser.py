"""The sign-in page in real headless Chromium, at 1366×768 and 390×844, in Chinese and
English: the language switch, an error that stays until dismissed, signing in to the board
(and the board loading with the session cookie), signing out from the board, and `?next=`
kept to this site's paths. Screenshots go to test-output/login/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from api.app import create_app
from api.deps import users_for
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.service import Stores
from tests.board.browser import (
    DESKTOP,
    PHONE,
    assert_accessible,
    chromium,
    click,
    css,
    no_sideways_scroll,
    text,
    type_into,
    wait,
)
from tests.board.live import LiveServer
from tests.databases import fresh_stores

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "login"
PASSWORD = "correct horse battery"
HEADING = {"zh-CN": "登录", "en": "Sign in"}
REFUSED = {"zh-CN": "用户名或密码不正确", "en": "Wrong user name or password"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stores, str]]:
    with fresh_stores("sqlite", tmp_path_factory.mktemp("login"), "login") as stores:
        users_for(stores).create("zhang.wei", "quality", "张伟", password=PASSWORD)
        finding = Finding(
            DeviceRef("hq", "tower-a", "pump", "lobby-pump-7"),
            "pump_fault",
            Severity.MAJOR,
            "pump_fault",
            "1",
            int(time.time() * 1000),
            "pressure low",
            {},
        )
        stores.tickets.record(finding)
        with LiveServer(create_app(stores)) as live:
            yield stores, live.url


def _shot(driver: WebDriver, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def _ready(driver: WebDriver) -> None:
    wait(driver, lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))


def _session_status(driver: WebDriver) -> int:
    status = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/api/session', {credentials: 'same-origin'}).then(r => done(r.status));"
    )
    return int(status)


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1366x768", "390x844"])
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_sign_in_see_the_board_and_sign_out(
    served: tuple[Stores, str], size: tuple[int, int], lang: str
) -> None:
    stores, base = served
    name = f"{lang}-{size[0]}x{size[1]}"
    with chromium(size) as driver:
        driver.get(base + "/login?next=" + "%2F%3Fview%3Dlist")
        _ready(driver)
        switch = Select(css(driver, "[data-testid=language-switch]"))
        other = "en" if lang == "zh-CN" else "zh-CN"
        switch.select_by_value(other)  # chosen here, whatever the browser's default
        wait(driver, lambda d: text(d, "#heading") == HEADING[other])
        switch.select_by_value(lang)
        wait(driver, lambda d: text(d, "#heading") == HEADING[lang])
        assert driver.execute_script("return document.documentElement.lang") == lang
        assert driver.find_element(By.ID, "continue-hint").is_displayed()
        no_sideways_scroll(driver)
        assert_accessible(driver)
        _shot(driver, f"{name}-form")

        # A refusal stays on the page until it is dismissed.
        type_into(driver, "[data-testid=login-username]", "zhang.wei")
        type_into(driver, "[data-testid=login-password]", "not the password")
        click(driver, "[data-testid=login-submit]")
        wait(driver, lambda d: REFUSED[lang] in text(d, "[data-testid=login-errors]"))
        type_into(driver, "[data-testid=login-password]", "x")  # the page lives on
        assert REFUSED[lang] in text(driver, "[data-testid=login-errors]")
        no_sideways_scroll(driver)
        assert_accessible(driver)
        _shot(driver, f"{name}-error")
        click(driver, "[data-testid=error-dismiss]")
        wait(driver, lambda d: text(d, "[data-testid=login-errors]") == "")

        password = css(driver, "[data-testid=login-password]")
        password.clear()
        password.send_keys(PASSWORD)
        click(driver, "[data-testid=login-submit]")
        # On to `?next=`, the board, which loads with the session cookie alone.
        wait(driver, lambda d: d.current_url == base + "/?view=list")
        _ready(driver)
        wait(driver, lambda d: "张伟" in text(d, "#who"))
        wait(driver, lambda d: "lobby-pump-7" in text(d, "body"))
        cookies = {c["name"]: c for c in driver.get_cookies()}
        assert (
            cookies["facmon_session"]["httpOnly"]
            and cookies["facmon_session"]["sameSite"] == "Strict"
        )
        assert not cookies["facmon_csrf"]["httpOnly"]
        # The language chosen before signing in is the user's from now on.
        assert stores is not None and users_for(stores).get("zhang.wei").language == lang
        _shot(driver, f"{name}-board")

        click(driver, "[data-testid=sign-out]")
        wait(driver, lambda d: "/login" in d.current_url)
        _ready(driver)
        assert _session_status(driver) == 401
        assert css(driver, "[data-testid=login-username]").is_displayed()
        _shot(driver, f"{name}-signed-out")
    users_for(stores).update("zhang.wei", language="zh-CN")


def test_next_stays_on_this_site_and_a_signed_in_visit_offers_sign_out(
    served: tuple[Stores, str],
) -> None:
    stores, base = served
    assert users_for(stores).get("zhang.wei").language == "zh-CN"
    with chromium(DESKTOP) as driver:
        driver.get(base + "/login")
        _ready(driver)
        found = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "import('/static/login.js').then(m => done(["
            "m.nextPath('?next=//evil.example/x', location.origin),"
            "m.nextPath('?next=https://evil.example/', location.origin),"
            "m.nextPath('?next=/\\\\evil.example', location.origin),"
            "m.nextPath('?next=javascript:alert(1)', location.origin),"
            "m.nextPath('?next=/login', location.origin),"
            "m.nextPath('?next=%2Fkpis%3Fsite%3Dhq%23heat', location.origin),"
            "m.nextPath('', location.origin)]));"
        )
        assert found == ["/", "/", "/", "/", "/", "/kpis?site=hq#heat", "/"]

        type_into(driver, "[data-testid=login-username]", "ZHANG.WEI")
        type_into(driver, "[data-testid=login-password]", PASSWORD)
        click(driver, "[data-testid=login-submit]")
        wait(driver, lambda d: d.current_url == base + "/")
        _ready(driver)
        # No language chosen on the page: the user's own (zh-CN) beats the browser's (en).
        assert driver.execute_script("return document.documentElement.lang") == "zh-CN"
        # Back on the sign-in page while signed in: who, the way on, and a sign-out.
        driver.get(base + "/login")
        _ready(driver)
        assert css(driver, "[data-testid=signed-in]").is_displayed()
        assert "张伟" in text(driver, "[data-testid=signed-in-who]")
        assert_accessible(driver)
        click(driver, "[data-testid=sign-out]")
        wait(driver, lambda d: css(d, "[data-testid=login-username]").is_displayed())
        assert text(driver, "[data-testid=login-status]")
        assert _session_status(driver) == 401
