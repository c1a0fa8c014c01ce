"""/static/evidence.js in real headless Chromium at 1366×768 and 390×844, in zh-CN and en:
for tickets made by the real detectors with their telemetry in the store, the ECharts
instance carries the threshold line, the onset mark and the verification window (waiting,
then passed), a predictive ticket its projected crossing and band; the fields below show
labels, units and times with their zone in the chosen language; no sideways scrolling;
axe-core finds no serious or critical violation. Screenshots go to test-output/evidence/.

The module is mounted on a page of the test's own, as the board's detail panel mounts it:
`renderEvidence(element, ticket, lang)`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.responses import HTMLResponse
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from api.app import create_app
from contract.clock import to_ms
from facmon.service import Stores
from quality.tickets.lifecycle import Role
from tests.api.kpi_page_data import MadeTicket, bearing_ticket, held_open_ticket
from tests.board.live import LiveServer
from tests.board.test_kpis_browser import (
    SIZES,
    choose_language,
    chromium,
    full_page_screenshot,
    serious_axe_violations,
    wait,
)
from tests.databases import fresh_stores

TEST_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>evidence</title>
<style>
body { margin:0; font:14px/1.4 system-ui, sans-serif; } main { padding:.6rem; max-width:48rem; }
</style>
</head><body><main id="panel"></main>
<script type="module">
import { loadLanguage, language } from "/static/app.js";
import { renderEvidence } from "/static/evidence.js";
await loadLanguage();
const id = new URLSearchParams(location.search).get("ticket");
try {
  await renderEvidence(document.getElementById("panel"), { id }, language());
  document.body.dataset.ready = "true";
} catch (error) {
  document.body.dataset.ready = "error";
}
</script></body></html>"""

CHART = "document.querySelector('[data-testid=evidence-chart]')"


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str, dict[str, MadeTicket], dict[str, Any]]]:
    with fresh_stores("sqlite", tmp_path_factory.mktemp("evidence"), "ev") as stores:
        now = to_ms(datetime.now(UTC))
        made = {
            "waiting": held_open_ticket(stores, "lobby-site", now),
            "passed": held_open_ticket(stores, "tower-site", now),
        }
        bearing, finding = bearing_ticket(stores, "plant-site", now)
        made["predictive"] = bearing
        _rectify(stores, made["waiting"].ticket_id)
        _verify(stores, made["passed"])
        token = stores.tokens.create("viewer", "evidence-reader")[1]
        app = create_app(stores)
        app.add_api_route(
            "/test/evidence", lambda: HTMLResponse(TEST_PAGE), include_in_schema=False
        )
        with LiveServer(app) as live:
            yield live.url, token, made, finding.evidence


def _rectify(stores: Stores, ticket_id: int) -> None:
    stores.tickets.assign(ticket_id, "tech", "e", Role.ENGINEER, None)
    stores.tickets.transition(ticket_id, "rectified", "e", Role.ENGINEER, "closer adjusted")


def _verify(stores: Stores, made: MadeTicket) -> None:
    _rectify(stores, made.ticket_id)
    stores.tickets.verify_by_telemetry(
        made.ticket_id,
        {
            "detector": "access_door_held_open",
            "version": "1",
            "window_start_ms": made.onset_ms + 600_000,
            "window_end_ms": made.onset_ms + 900_000,
            "window_s": 300.0,
            "normal_samples": 30,
        },
    )


def open_evidence(driver: WebDriver, base: str, ticket_id: int) -> dict[str, Any]:
    driver.get(f"{base}/test/evidence?ticket={ticket_id}")
    wait(driver, lambda d: d.execute_script("return document.body.dataset.ready") is not None)
    assert driver.execute_script("return document.body.dataset.ready") == "true"
    wait(
        driver,
        lambda d: d.execute_script(f"return !!echarts.getInstanceByDom({CHART})"),
    )
    option: dict[str, Any] = driver.execute_script(
        f"const o = echarts.getInstanceByDom({CHART}).getOption();"
        "return {series: o.series.map(s => ({name: s.name, type: s.type, n: s.data.length,"
        " markLine: (s.markLine && s.markLine.data) || [],"
        " markArea: (s.markArea && s.markArea.data) || []})),"
        " yAxis: o.yAxis.map(a => a.name), xAxis: o.xAxis.map(a => [a.min, a.max, a.name])};"
    )
    return option


def field_text(driver: WebDriver, key: str) -> str:
    return str(
        driver.execute_script(
            "return document.querySelector("
            "`[data-testid=evidence-fields] dd[data-field='${arguments[0]}']`)"
            "?.textContent ?? null",
            key,
        )
    )


WORDS = {
    "zh-CN": {"threshold": "阈值", "value": "实测值", "unit": "秒", "axis": "门保持开启时长"},
    "en": {
        "threshold": "Threshold",
        "value": "Measured value",
        "unit": "s",
        "axis": "time held open",
    },
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("size", list(SIZES), ids=list(SIZES))
def test_evidence_chart_and_fields(
    served: tuple[str, str, dict[str, MadeTicket], dict[str, Any]],
    size: str,
    lang: str,
    output_dir: Path,
) -> None:
    base, token, made, bearing_evidence = served
    shots = output_dir / "evidence"
    shots.mkdir(exist_ok=True)
    words = WORDS[lang]
    with chromium(SIZES[size], token) as driver:
        choose_language(driver, base, lang)

        # -- rectified: threshold, onset, the verification window waiting for telemetry
        waiting = made["waiting"]
        option = open_evidence(driver, base, waiting.ticket_id)
        main = option["series"][0]
        # from 15 min before the onset on to now (the verification window is still to come)
        span_start = waiting.onset_ms - 15 * 60_000
        assert main["type"] == "line"
        assert main["n"] == (waiting.last_ms - span_start) // 10_000 + 1
        assert {"yAxis": 60} in [{"yAxis": m.get("yAxis")} for m in main["markLine"]]
        threshold = next(m for m in main["markLine"] if m.get("yAxis") == 60)
        assert threshold["name"] == words["threshold"]
        assert any(m.get("xAxis") == waiting.onset_ms for m in main["markLine"])
        [area] = main["markArea"]
        assert area[1]["xAxis"] - area[0]["xAxis"] > 0
        assert option["xAxis"][0][1] >= area[1]["xAxis"]  # the axis runs on to its end
        assert words["axis"] in option["yAxis"][0] and f"({words['unit']})" in option["yAxis"][0]
        assert field_text(driver, "threshold") == f"60 {words['unit']}"
        labels = driver.find_element(By.CSS_SELECTOR, "[data-testid=evidence-fields]").text
        assert words["threshold"] in labels and words["value"] in labels
        width, inner = driver.execute_script(
            "return [document.scrollingElement.scrollWidth, window.innerWidth]"
        )
        assert width <= inner, f"the page scrolls sideways: {width} > {inner}"
        assert serious_axe_violations(driver) == []
        full_page_screenshot(driver, shots / f"evidence-waiting-{lang}-{size}.png")

        # -- verified by telemetry: the window the verifier saw, shaded
        passed = made["passed"]
        option = open_evidence(driver, base, passed.ticket_id)
        [area] = option["series"][0]["markArea"]
        assert (area[0]["xAxis"], area[1]["xAxis"]) == (
            passed.onset_ms + 600_000,
            passed.onset_ms + 900_000,
        )
        shown = driver.find_element(By.CSS_SELECTOR, "[data-testid=evidence-verification]").text
        assert "UTC" in shown  # the window's ends as times with their zone

        # -- predictive: the projected crossing with its band, the detector's buckets
        option = open_evidence(driver, base, made["predictive"].ticket_id)
        names = [s["name"] for s in option["series"]]
        assert len(names) == 3  # the metric, the stored window, the projection
        band = option["series"][0]["markArea"][-1]
        assert band[0]["xAxis"] <= band[1]["xAxis"]
        projection = option["series"][2]
        assert projection["n"] == 2
        assert option["series"][1]["n"] == len(bearing_evidence["window"])
        assert option["xAxis"][0][1] >= band[1]["xAxis"]  # the axis reaches the band's end
        crossing = driver.find_element(By.CSS_SELECTOR, "[data-testid=evidence-crossing]").text
        assert "UTC" in crossing
        assert serious_axe_violations(driver) == []
        full_page_screenshot(driver, shots / f"evidence-predictive-{lang}-{size}.png")


def test_the_board_detail_panel_draws_the_evidence(
    served: tuple[str, str, dict[str, MadeTicket], dict[str, Any]], output_dir: Path
) -> None:
    """The board's detail panel mounts the same module: opening a rectified ticket there
    shows its threshold, its onset and the verification window it waits for."""
    base, token, made, _evidence = served
    waiting = made["waiting"]
    with chromium(SIZES["desktop"], token) as driver:
        choose_language(driver, base, "zh-CN")
        driver.get(base + "/")
        opener = wait(
            driver,
            lambda d: d.find_element(
                By.CSS_SELECTOR,
                f"[data-testid=ticket-{waiting.ticket_id}] [data-testid=open-ticket]",
            ),
        )
        opener.click()
        chart = "document.querySelector('#detail [data-testid=evidence-chart]')"
        wait(
            driver,
            lambda d: d.execute_script(f"return !!({chart} && echarts.getInstanceByDom({chart}))"),
        )
        main = driver.execute_script(
            f"const s = echarts.getInstanceByDom({chart}).getOption().series[0];"
            "return {lines: s.markLine.data.map(m => [m.xAxis ?? null, m.yAxis ?? null]),"
            " areas: s.markArea.data.length};"
        )
        assert [None, 60] in main["lines"]
        assert [waiting.onset_ms, None] in main["lines"]
        assert main["areas"] == 1
        full_page_screenshot(driver, output_dir / "evidence" / "evidence-in-board-zh-CN.png")
