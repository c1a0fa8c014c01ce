"""The reports page in real headless Chromium, at desk and phone width, in both languages:
a report made from the form appears in the list with its downloads; a bad period stays on
screen with the field named until dismissed; nothing scrolls sideways at 390 px."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from api.app import create_app
from tests.board.live import LiveServer
from tests.databases import fresh_stores
from tests.quality.kpi import scenario

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "reports"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"


def serious_axe_violations(driver: WebDriver) -> list[str]:
    """axe-core, run in the page: the rules broken at serious or critical impact."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(r => done(r.violations.map(v => [v.id, v.impact, v.help])));"
    )
    return [
        f"{rule} ({impact}): {help_}"
        for rule, impact, help_ in found
        if impact in ("serious", "critical")
    ]


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
    ):
        options.add_argument(flag)
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    driver = webdriver.Chrome(service=ChromeService(driver_path), options=options)
    yield driver
    driver.quit()


@pytest.mark.parametrize(("lang", "width", "height"), [("zh-CN", 390, 844), ("en", 1366, 768)])
def test_reports_page_makes_and_lists_a_report(
    browser: WebDriver, tmp_path: Path, lang: str, width: int, height: int
) -> None:
    with fresh_stores("sqlite", tmp_path, "page") as stores:
        scenario.make_ledger(stores.engine)
        scenario.make_tickets(stores.engine)
        _id, token = stores.tokens.create("quality", "qa-lead")
        with LiveServer(create_app(stores)) as live:
            browser.set_window_size(width, height)
            browser.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
            )
            browser.execute_cdp_cmd("Network.enable", {})
            browser.execute_cdp_cmd(
                "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {token}"}}
            )
            browser.get(live.url + "/reports")
            browser.execute_script(f"localStorage.setItem('facmon.lang', '{lang}')")
            browser.refresh()
            wait = WebDriverWait(browser, 60, poll_frequency=0.1)
            wait.until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
            title = browser.find_element(By.TAG_NAME, "h1").text
            assert title == ("品质报告" if lang == "zh-CN" else "Quality reports")

            form = browser.find_element(By.CSS_SELECTOR, "[data-testid=generate-form]")
            period = form.find_element(By.CSS_SELECTOR, "[data-testid=period]")
            period.send_keys("2024-13")
            form.find_element(By.CSS_SELECTOR, "[data-testid=submit]").click()
            notice = browser.find_element(By.CSS_SELECTOR, "[data-testid=notice]")
            wait.until(lambda _b: "error" in (notice.get_attribute("class") or ""))
            assert "period" in notice.text
            notice.find_element(By.TAG_NAME, "button").click()
            assert not notice.is_displayed()

            period.clear()
            period.send_keys("2024-W18")
            form.find_element(By.CSS_SELECTOR, "[data-testid=site]").send_keys("hq")
            Select(form.find_element(By.CSS_SELECTOR, "[data-testid=language]")).select_by_value(
                lang
            )
            form.find_element(By.CSS_SELECTOR, "[data-testid=submit]").click()
            wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "[data-testid=download-pdf]"))
            item = browser.find_element(By.CSS_SELECTOR, "[data-testid=report]")
            assert "hq" in item.text and "2024-W18" in item.text
            link = item.find_element(By.CSS_SELECTOR, "[data-testid=download-pdf]")
            assert (link.get_attribute("href") or "").endswith(".pdf")
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"the page scrolls sideways by {overflow} px at {width} px"
            links = browser.find_elements(By.CSS_SELECTOR, "header a")
            assert [a.get_attribute("pathname") for a in links] == ["/", "/kpis"]
            assert serious_axe_violations(browser) == []
            SHOTS.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(SHOTS / f"reports-page-{lang}-{width}.png"))
