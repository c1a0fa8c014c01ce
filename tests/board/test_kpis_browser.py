"""The KPI page (/kpis) in real headless Chromium at 1366×768 and 390×844, in zh-CN and en:
every figure equals the API's over the period the page names, the heat map (热力分析图) is
drawn with the API's cells, the chronic list shows the yellow and red cards, the
contractors are ranked; filters live in the URL; no sideways scrolling on a phone; axe-core
finds no serious or critical violation. Screenshots go to test-output/kpis/."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from api.app import create_app
from facmon.service import Stores
from quality.inspections.categories import CATEGORIES
from tests.api.kpi_page_data import seed_site
from tests.board.live import LiveServer
from tests.databases import fresh_stores

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"desktop": (1366, 768), "phone": (390, 844)}
LANGS = ("zh-CN", "en")
LOOP = (
    "timeliness_pct",
    "completion_pct",
    "response_time_s",
    "first_time_fix_pct",
    "mttr_s",
    "mtbf_s",
    "repeat_pct",
    "maintenance_execution_pct",
    "inspection_completion_pct",
)
WORDS = {
    "zh-CN": ("设备完好率", "热力分析图", "黄牌", "红牌", "维保单位", "闭环管理指标"),
    "en": ("Equipment integrity rate", "Heat map of problem spots", "Yellow cards", "Red cards"),
}


@contextmanager
def chromium(size: tuple[int, int], token: str) -> Iterator[WebDriver]:
    """Headless Chromium with an exact viewport, sending the API token on every request
    (as a machine client would; a person signs in with a session cookie instead)."""
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
    service = ChromeService(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": size[0] < 600},
        )
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {token}"}}
        )
        yield driver
    finally:
        driver.quit()


def wait(driver: WebDriver, condition: Any, timeout: float = 30) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def choose_language(driver: WebDriver, base: str, lang: str) -> None:
    driver.get(base + "/api/i18n")
    driver.execute_script("localStorage.setItem('facmon.lang', arguments[0]);", lang)


def page_ready(driver: WebDriver) -> bool:
    return bool(
        driver.execute_script("return document.getElementById('main').dataset.ready === 'true'")
    )


def full_page_screenshot(driver: WebDriver, path: Path) -> None:
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def serious_axe_violations(driver: WebDriver) -> list[dict[str, Any]]:
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(JSON.stringify(r.violations)))"
        ".catch(e => done(JSON.stringify({error: String(e)})));"
    )
    found = json.loads(result)
    assert isinstance(found, list), found
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:120] for n in v["nodes"][:3]]}
        for v in found
        if v.get("impact") in ("serious", "critical")
    ]


def value(element_value: str | None) -> float | None:
    return None if not element_value else float(element_value)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Stores]]:
    with fresh_stores("sqlite", tmp_path_factory.mktemp("kpis"), "kpis") as stores:
        seed_site(stores, "plaza")
        seed_site(stores, "harbour")
        token = stores.tokens.create("quality", "qa-lead")[1]
        with LiveServer(create_app(stores)) as live:
            yield live.url, token, stores


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", list(SIZES), ids=list(SIZES))
def test_kpi_page_matches_the_api(
    served: tuple[str, str, Stores], size: str, lang: str, output_dir: Path
) -> None:
    base, token, _stores = served
    shots = output_dir / "kpis"
    shots.mkdir(exist_ok=True)
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
    with chromium(SIZES[size], token) as driver:
        choose_language(driver, base, lang)
        driver.get(base + "/kpis?site=plaza&period=30d")
        wait(driver, page_ready)
        main = driver.find_element(By.ID, "main")
        period = {"from": main.get_attribute("data-from"), "to": main.get_attribute("data-to")}
        assert driver.execute_script("return document.documentElement.lang") == lang

        # -- the integrity rate and the loop KPIs: the API's figures, over the same period
        report = api.get("/api/kpis", params={"site": "plaza", **period}).json()
        site = next(g for g in report["groups"] if g["scope"] == "site")
        block = driver.find_element(By.CSS_SELECTOR, "[data-testid=integrity-plaza]")
        shown = block.find_element(By.CSS_SELECTOR, "[data-testid=integrity-value]")
        assert value(shown.get_attribute("data-value")) == site["integrity_pct"]
        for row in block.find_elements(By.CSS_SELECTOR, "[data-testid=integrity-row-building]"):
            group = next(
                g
                for g in report["groups"]
                if g["scope"] == "building" and g["building"] == row.get_attribute("data-key")
            )
            cell = row.find_elements(By.TAG_NAME, "td")[1]
            assert value(cell.get_attribute("data-value")) == group["integrity_pct"]
        loop = driver.find_element(By.CSS_SELECTOR, "[data-testid=loop-plaza]")
        for name in LOOP:
            tile = loop.find_element(By.CSS_SELECTOR, f"[data-testid=kpi-{name}]")
            assert value(tile.get_attribute("data-value")) == site[name], name
        # the trend: one point per sixth of the period, each the API's figure for it
        trend = driver.execute_script(
            "const el = document.querySelector('[data-testid=integrity-plaza] "
            "[data-testid=integrity-trend]');"
            "const option = echarts.getInstanceByDom(el).getOption();"
            "return [option.series[0].data, option.series[0].markLine.data[0].yAxis];"
        )
        points, target = trend
        assert len(points) == 6 and target == 98
        last = api.get(
            "/api/kpis",
            params={"site": "plaza", "from": _iso(points[-2][0]), "to": period["to"]},
        ).json()
        last_site = next(g for g in last["groups"] if g["scope"] == "site")
        assert points[-1][1] == last_site["integrity_pct"]

        # -- the heat map: drawn with the API's cells
        heat = api.get("/api/kpis/heatmap", params={"site": "plaza", **period}).json()
        drawn = driver.execute_script(
            "const option = echarts.getInstanceByDom("
            "document.getElementById('heatmap-chart')).getOption();"
            "return [option.series[0].type, option.series[0].data, option.yAxis[0].data,"
            " option.xAxis[0].data];"
        )
        kind, cells, rows, kinds = drawn
        assert kind == "heatmap"
        assert sorted(c[2] for c in cells) == sorted(c["tickets"] for c in heat["cells"])
        assert sum(c[2] for c in cells) == heat["tickets"] == 6
        assert len(rows) == 4 and len(kinds) == 4

        # -- the cards: door-1 earned a yellow and a red card; chronic
        cards = {
            row.get_attribute("data-device"): row
            for row in driver.find_elements(By.CSS_SELECTOR, "[data-testid=chronic-row]")
        }
        assert set(cards) == {"door-1"}
        door = cards["door-1"]
        assert [
            td.get_attribute("data-value")
            for td in door.find_elements(By.CSS_SELECTOR, "td[data-value]")
        ] == ["1", "1"]
        fault = door.find_elements(By.TAG_NAME, "td")[1].get_attribute("textContent")
        assert fault == CATEGORIES["door_held_open"][lang]

        # -- the contractors' ranking: Kone (no card) before Otis (a yellow card)
        scores = api.get("/api/kpis/contractors", params={"site": "plaza", **period}).json()
        ranked = driver.find_elements(By.CSS_SELECTOR, "[data-testid=ranking-row]")
        assert [r.get_attribute("data-contractor") for r in ranked] == ["Kone", "Otis"]
        otis = next(c for c in scores["contractors"] if c["contractor"] == "Otis")
        yellow = ranked[1].find_element(By.CSS_SELECTOR, "td[data-column=yellow_cards]")
        assert value(yellow.get_attribute("data-value")) == otis["yellow_cards"] == 1

        text = driver.execute_script("return document.body.textContent")
        for word in WORDS[lang]:
            assert word in text, word
        # the page leads on to the board and to the reports
        links = driver.find_elements(By.CSS_SELECTOR, "header nav a")
        assert [a.get_attribute("pathname") for a in links] == ["/", "/reports"]
        width, inner = driver.execute_script(
            "return [document.scrollingElement.scrollWidth, window.innerWidth]"
        )
        assert width <= inner, f"the page scrolls sideways: {width} > {inner}"
        assert serious_axe_violations(driver) == []
        full_page_screenshot(driver, shots / f"kpis-{lang}-{size}.png")


def test_filters_live_in_the_url(served: tuple[str, str, Stores]) -> None:
    base, token, _stores = served
    with chromium(SIZES["desktop"], token) as driver:
        choose_language(driver, base, "en")
        driver.get(base + "/kpis")
        wait(driver, page_ready)
        # every site at first; then one, and a shorter period, each kept in the URL
        assert {
            e.get_attribute("data-testid")
            for e in driver.find_elements(By.CSS_SELECTOR, "[data-testid^=loop-]")
        } >= {"loop-plaza", "loop-harbour"}
        Select(driver.find_element(By.ID, "site")).select_by_value("harbour")
        wait(driver, lambda d: "site=harbour" in d.current_url and page_ready(d))
        Select(driver.find_element(By.ID, "period")).select_by_value("7d")
        wait(driver, lambda d: "period=7d" in d.current_url and page_ready(d))
        assert driver.find_elements(By.CSS_SELECTOR, "[data-testid=loop-plaza]") == []
        shared = driver.current_url
        driver.get(shared)
        wait(driver, page_ready)
        assert (
            Select(driver.find_element(By.ID, "site")).first_selected_option.get_attribute("value")
            == "harbour"
        )
        assert driver.find_element(By.ID, "main").get_attribute("data-site") == "harbour"
        # a bad period in the URL is refused with the field and the fix, until dismissed
        driver.get(base + "/kpis?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z")
        error = wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=error]"))
        wait(driver, lambda d: error.is_displayed())
        assert "must be after from" in error.text
        driver.find_element(By.ID, "error-dismiss").click()
        wait(driver, lambda d: not error.is_displayed())


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")
