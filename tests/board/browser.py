"""Headless Chromium for the board's tests: a window size, a language, a signed-in tab, the
checks every page gets (no sideways scrolling, axe-core without serious or critical
violations) and screenshots under test-output/board/."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import (
    ElementNotInteractableException,
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-output" / "board"
DESKTOP = (1366, 768)
PHONE = (390, 844)
T = TypeVar("T")


@contextmanager
def chromium(size: tuple[int, int] = DESKTOP) -> Iterator[WebDriver]:
    """A real headless Chromium whose viewport is `size` (CSS pixels)."""
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--window-size={size[0]},{size[1]}",
    ):
        options.add_argument(flag)
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    driver = webdriver.Chrome(service=ChromeService(driver_path), options=options)
    try:
        # The window size includes no browser chrome in headless mode; make the viewport exact.
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": size[0],
                "height": size[1],
                "deviceScaleFactor": 1,
                "mobile": size[0] < 600,
            },
        )
        yield driver
    finally:
        driver.quit()


def sign_in_with_token(driver: WebDriver, base_url: str, token: str, lang: str) -> None:
    """Seeds the tab: the board's bearer token (sessionStorage) and the chosen language
    (localStorage, as the language switch remembers it), then opens the board."""
    driver.get(base_url + "/api/i18n")
    driver.execute_script(
        "sessionStorage.setItem('facmon-token', arguments[0]);"
        "localStorage.setItem('facmon.lang', arguments[1]);",
        token,
        lang,
    )


def open_board(driver: WebDriver, url: str) -> None:
    driver.get(url)
    wait(driver, lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))


def wait(driver: WebDriver, condition: Callable[[WebDriver], T], timeout: float = 20) -> T:
    result: T = WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)
    return result


def css(driver: WebDriver, selector: str) -> WebElement:
    return wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, selector))


def click(driver: WebDriver, selector: str) -> None:
    """Clicks `selector`, finding it afresh if a re-render replaced it meanwhile."""

    def clicked(d: WebDriver) -> bool:
        try:
            d.find_element(By.CSS_SELECTOR, selector).click()
        except (
            StaleElementReferenceException,
            NoSuchElementException,
            ElementNotInteractableException,
        ):
            return False
        return True

    wait(driver, clicked)


def type_into(driver: WebDriver, selector: str, keys: str) -> None:
    """Types into `selector`, finding it afresh if a re-render replaced it meanwhile."""

    def typed(d: WebDriver) -> bool:
        try:
            d.find_element(By.CSS_SELECTOR, selector).send_keys(keys)
        except (
            StaleElementReferenceException,
            NoSuchElementException,
            ElementNotInteractableException,
        ):
            return False
        return True

    wait(driver, typed)


def text(driver: WebDriver, selector: str) -> str:
    """The rendered text of `selector` now ("" when absent), read in one step."""
    found = driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", selector
    )
    return str(found)


def ids_of(driver: WebDriver, selector: str) -> list[str]:
    """The data-testid of every element `selector` matches, read at one instant (a
    re-render between reads would leave stale elements)."""
    found = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.dataset.testid || '')",
        selector,
    )
    return [str(name) for name in found]


def rendered(driver: WebDriver) -> int:
    return int(driver.execute_script("return Number(document.body.dataset.rendered || 0)"))


def wait_rerender(driver: WebDriver, before: int) -> None:
    wait(driver, lambda d: rendered(d) > before)


def no_sideways_scroll(driver: WebDriver) -> tuple[int, int]:
    width, inner = driver.execute_script(
        "return [document.scrollingElement.scrollWidth, window.innerWidth]"
    )
    assert width <= inner, f"the page scrolls sideways: {width} > {inner}"
    return int(width), int(inner)


def axe_violations(driver: WebDriver) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(JSON.stringify(r.violations)))"
        ".catch(e => done(JSON.stringify({error: String(e)})));"
    )
    found = json.loads(result)
    assert isinstance(found, list), found
    return [v for v in found if v.get("impact") in ("serious", "critical")]


def assert_accessible(driver: WebDriver) -> None:
    bad = axe_violations(driver)
    summary = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in bad]
    assert not bad, f"axe-core: {summary}"


def screenshot(driver: WebDriver, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def poll(check: Callable[[], T], timeout: float = 20) -> T:
    """Polls a server-side condition with a deadline (the API's state, not the page's)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
