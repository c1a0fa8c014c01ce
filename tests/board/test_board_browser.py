"""The ticket board in real headless Chromium: a simulator fault opens a ticket, the
quality user dispatches it and marks it rectified, the fault clears, telemetry verifies it."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from api.app import create_app
from gateway.connection import parse_mqtt_url
from simulators.runner import SimulationRunner
from simulators.scenario import parse_scenario
from tests.board.live import LiveServer
from tests.e2e.helpers import fleet_for, service_settings, started
from tools.servers import MosquittoServer


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1600,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=ChromeService(driver_path), options=options)
    yield driver
    driver.quit()


def test_board_dispatch_rectify_and_verify_by_telemetry(
    browser: WebDriver, mosquitto: MosquittoServer, site: str, tmp_path: Path, output_dir: Path
) -> None:
    settings = service_settings(
        tmp_path, mqtt_url=mosquitto.url, verification_window_s=4, ticket_events_mqtt=False
    )
    service = started(settings)
    scenario = parse_scenario(
        {
            "site": site,
            "start": "-70s",
            "speed": 20,
            "rate_hz": 2,
            "devices": [{"id": f"{site}-door", "kind": "access", "building": "lobby"}],
            # Held open from the start; the fault clears 90 simulated seconds in.
            "faults": [{"device": f"{site}-door", "type": "door_held_open", "at": 0, "for": 90}],
        }
    )
    runner = SimulationRunner(
        fleet_for(scenario), parse_mqtt_url(mosquitto.url), scenario.speed, site
    )
    sim = threading.Thread(target=runner.run, kwargs={"duration_sim_s": 600}, daemon=True)
    _id, token = service.stores.tokens.create("quality", "qa-lead")
    try:
        with LiveServer(create_app(service.stores)) as live:
            sim.start()
            wait = WebDriverWait(browser, 30, poll_frequency=0.1)
            browser.get(live.url + "/")
            wait.until(
                ec.visibility_of_element_located((By.CSS_SELECTOR, "[data-testid=token-input]"))
            )
            browser.find_element(By.CSS_SELECTOR, "[data-testid=token-input]").send_keys(token)
            browser.find_element(By.CSS_SELECTOR, "[data-testid=token-submit]").click()
            wait.until(ec.text_to_be_present_in_element((By.ID, "who"), "qa-lead (quality)"))

            card = "[data-testid=column-open] [data-testid^=ticket-]"
            wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, card)))
            browser.find_element(By.CSS_SELECTOR, card).click()
            wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid=to-dispatched]")))
            assert "door held open" in browser.find_element(By.ID, "detail").text
            assert browser.find_elements(By.CSS_SELECTOR, "[data-testid=evidence-chart]")
            browser.find_element(By.CSS_SELECTOR, "[data-testid=assignee]").send_keys("door-team")
            browser.find_element(By.CSS_SELECTOR, "[data-testid=team]").send_keys("night shift")
            browser.find_element(By.CSS_SELECTOR, "[data-testid=to-dispatched]").click()
            wait.until(
                ec.presence_of_element_located(
                    (By.CSS_SELECTOR, "[data-testid=column-dispatched] [data-testid^=ticket-]")
                )
            )
            # 接单: the column and the clock are named in both languages.
            column = browser.find_element(By.CSS_SELECTOR, "[data-testid=column-dispatched]")
            assert "已派单 DISPATCHED (1)" in column.text  # headings are upper case
            assert "接单 acknowledge due in" in column.text
            wait.until(
                ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid=to-acknowledged]"))
            )
            browser.find_element(By.CSS_SELECTOR, "[data-testid=to-acknowledged]").click()
            wait.until(
                ec.presence_of_element_located(
                    (By.CSS_SELECTOR, "[data-testid=column-acknowledged] [data-testid^=ticket-]")
                )
            )
            wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid=to-rectified]")))
            browser.find_element(By.CSS_SELECTOR, "[data-testid=note]").send_keys("closer adjusted")
            browser.find_element(By.CSS_SELECTOR, "[data-testid=to-rectified]").click()
            wait.until(
                ec.presence_of_element_located(
                    (By.CSS_SELECTOR, "[data-testid=column-rectified] [data-testid^=ticket-]")
                )
            )
            # The simulator's fault has cleared; the detector must now see a normal door
            # for the whole verification window before the ticket turns verified.
            WebDriverWait(browser, 60, poll_frequency=0.2).until(
                ec.presence_of_element_located(
                    (By.CSS_SELECTOR, "[data-testid=column-verified] [data-testid^=ticket-]")
                )
            )
            wait.until(
                ec.presence_of_element_located((By.CSS_SELECTOR, "[data-testid=verification]"))
            )
            browser.save_screenshot(str(output_dir / "board-verified.png"))
            verification = browser.find_element(By.CSS_SELECTOR, "[data-testid=verification]").text
            assert '"method":"telemetry"' in verification

            tickets = service.stores.tickets.list()
            assert len(tickets) == 1
            history = [(h.actor, h.to_state) for h in service.stores.tickets.history(tickets[0].id)]
            assert history == [
                ("facmon", "open"),
                ("qa-lead", "dispatched"),
                ("qa-lead", "acknowledged"),
                ("qa-lead", "rectified"),
                ("facmon", "verified"),
            ]
            assert (tickets[0].assignee, tickets[0].team) == ("door-team", "night shift")
    finally:
        runner.stop()
        sim.join(10)
        service.stop()
