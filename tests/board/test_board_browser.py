"""The whole loop on the board in real headless Chromium, with a real Mosquitto and the
simulators: a door's fault opens a ticket, the quality user dispatches it (派单), the team
acknowledges (接单) and rectifies it (整改), telemetry re-checks it (复核), the user closes
it out (销项). A second door's fault never clears: verifying it by hand asks for
confirmation, and the confirmation is recorded in the history."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from api.app import create_app
from facmon.service import Service
from gateway.connection import parse_mqtt_url
from quality.tickets.models import Ticket
from simulators.runner import SimulationRunner
from simulators.scenario import parse_scenario
from tests.board.browser import (
    DESKTOP,
    PHONE,
    assert_accessible,
    chromium,
    click,
    css,
    ids_of,
    no_sideways_scroll,
    open_board,
    poll,
    screenshot,
    sign_in_with_token,
    text,
    type_into,
    wait,
)
from tests.board.live import LiveServer
from tests.e2e.helpers import fleet_for, service_settings, started
from tools.servers import MosquittoServer

WORDS = {
    "zh-CN": {"waiting": "等待遥测复核", "fault": "遥测仍显示故障", "normal": "遥测正常"},
    "en": {
        "waiting": "waiting for the telemetry re-check",
        "fault": "Telemetry still shows the fault",
        "normal": "Telemetry normal",
    },
}


def ticket_of(service: Service, device: str) -> Ticket:
    return next(t for t in service.stores.tickets.list() if t.device_id == device)


def open_detail(driver: WebDriver, ticket_id: int) -> None:
    click(driver, f"[data-testid=ticket-{ticket_id}] [data-testid=open-ticket]")
    wait(driver, lambda d: text(d, "[data-testid=detail-title]").startswith(f"#{ticket_id} "))


def move(driver: WebDriver, service: Service, ticket_id: int, target: str) -> None:
    click(driver, f"[data-testid=to-{target}]")
    poll(lambda: service.stores.tickets.require(ticket_id).state == target)


def refresh_detail(driver: WebDriver, condition: str) -> None:
    """The board refreshes on its own every 10 s; its refresh (the toolbar's button, hidden
    behind the detail on a phone) does it now."""

    def shown(d: WebDriver) -> bool:
        d.execute_script("document.getElementById('refresh').click()")
        return condition in text(d, "[data-testid=detail]")

    wait(driver, shown, timeout=30)


@pytest.mark.parametrize(
    ("size", "lang"),
    [pytest.param(DESKTOP, "zh-CN", id="1366-zh"), pytest.param(PHONE, "en", id="390-en")],
)
def test_the_whole_loop_and_verifying_despite_the_fault(
    mosquitto: MosquittoServer,
    site: str,
    tmp_path: Path,
    size: tuple[int, int],
    lang: str,
) -> None:
    settings = service_settings(
        tmp_path, mqtt_url=mosquitto.url, verification_window_s=4, ticket_events_mqtt=False
    )
    service = started(settings)
    fixed, stuck = f"{site}-door", f"{site}-door-b"
    scenario = parse_scenario(
        {
            "site": site,
            "start": "-70s",
            "speed": 20,
            "rate_hz": 2,
            "devices": [
                {"id": fixed, "kind": "access", "building": "lobby"},
                {"id": stuck, "kind": "access", "building": "garage"},
            ],
            # The first door's fault clears 90 simulated seconds in; the second's never does.
            "faults": [
                {"device": fixed, "type": "door_held_open", "at": 0, "for": 90},
                {"device": stuck, "type": "door_held_open", "at": 0, "for": 100000},
            ],
        }
    )
    runner = SimulationRunner(
        fleet_for(scenario), parse_mqtt_url(mosquitto.url), scenario.speed, site
    )
    sim = threading.Thread(target=runner.run, kwargs={"duration_sim_s": 3000}, daemon=True)
    token = service.stores.tokens.create("quality", "qa-lead")[1]
    tag = f"{size[0]}-{lang}"
    try:
        with LiveServer(create_app(service.stores)) as live, chromium(size) as driver:
            sim.start()
            poll(lambda: len(service.stores.tickets.list()) == 2, timeout=30)
            first, second = ticket_of(service, fixed).id, ticket_of(service, stuck).id
            sign_in_with_token(driver, live.url, token, lang)
            open_board(driver, live.url + f"/?site={site}")
            wait(driver, lambda d: len(ids_of(d, "[data-testid=column-open] article")) == 2)
            # Each card shows its device's online status as ingest heard it.
            online = css(driver, f"[data-testid=ticket-{first}] .online").get_attribute("class")
            assert online == "online up"

            # 派单 → 接单 → 整改, by the buttons.
            open_detail(driver, first)
            type_into(driver, "[data-testid=assignee]", "door-team")
            type_into(driver, "[data-testid=team]", "night shift")
            click(driver, "[data-testid=to-dispatched]")
            poll(lambda: service.stores.tickets.require(first).state == "dispatched")
            wait(driver, lambda d: d.find_elements("css selector", "[data-testid=to-acknowledged]"))
            move(driver, service, first, "acknowledged")
            wait(driver, lambda d: d.find_elements("css selector", "[data-testid=to-rectified]"))
            type_into(driver, "[data-testid=note]", "closer adjusted")
            move(driver, service, first, "rectified")
            # The card says it waits for the telemetry re-check.
            wait(
                driver, lambda d: WORDS[lang]["waiting"] in text(d, f"[data-testid=ticket-{first}]")
            )
            screenshot(driver, f"loop-rectified-{tag}")

            # 复核 by telemetry: the first door is normal for the whole window.
            poll(lambda: service.stores.tickets.require(first).state == "verified", timeout=60)
            refresh_detail(driver, WORDS[lang]["normal"])
            wait(driver, lambda d: d.find_elements("css selector", "[data-testid=to-closed]"))
            # 销项: telemetry showed the repair hold, so no confirmation is asked.
            move(driver, service, first, "closed")
            no_sideways_scroll(driver)
            assert_accessible(driver)
            screenshot(driver, f"loop-closed-{tag}")
            history = [(h.actor, h.to_state) for h in service.stores.tickets.history(first)]
            assert history == [
                ("facmon", "open"),
                ("qa-lead", "dispatched"),
                ("qa-lead", "acknowledged"),
                ("qa-lead", "rectified"),
                ("facmon", "verified"),
                ("qa-lead", "closed"),
            ]
            verified = service.stores.tickets.require(first)
            assert (verified.assignee, verified.team) == ("door-team", "night shift")
            assert verified.verification is not None
            assert verified.verification["method"] == "telemetry"

            # The second door: rectified by hand while it is still held open.
            click(driver, "[data-testid=detail-close]")
            open_detail(driver, second)
            type_into(driver, "[data-testid=assignee]", "garage-team")
            click(driver, "[data-testid=to-dispatched]")
            poll(lambda: service.stores.tickets.require(second).state == "dispatched")
            wait(driver, lambda d: d.find_elements("css selector", "[data-testid=to-rectified]"))
            move(driver, service, second, "rectified")
            status = poll(lambda: service.stores.tickets.recheck(second), timeout=30)
            assert status is not None and status.fault_present
            refresh_detail(driver, WORDS[lang]["fault"])
            type_into(driver, "[data-testid=note]", "checked on site, sensor suspect")
            click(driver, "[data-testid=to-verified]")
            wait(
                driver,
                lambda d: d.find_element(
                    "css selector", "[data-testid=confirm-dialog]"
                ).is_displayed(),
            )
            assert service.stores.tickets.require(second).state == "rectified"
            assert_accessible(driver)
            no_sideways_scroll(driver)
            screenshot(driver, f"confirm-despite-fault-{tag}")
            # Cancel leaves it; confirming verifies it and records the confirmation.
            click(driver, "[data-testid=confirm-no]")
            wait(
                driver,
                lambda d: (
                    not d.find_element(
                        "css selector", "[data-testid=confirm-dialog]"
                    ).is_displayed()
                ),
            )
            assert service.stores.tickets.require(second).state == "rectified"
            click(driver, "[data-testid=to-verified]")
            wait(
                driver,
                lambda d: d.find_element(
                    "css selector", "[data-testid=confirm-dialog]"
                ).is_displayed(),
            )
            click(driver, "[data-testid=confirm-yes]")
            poll(lambda: service.stores.tickets.require(second).state == "verified")
            last = service.stores.tickets.history(second)[-1]
            assert (last.actor, last.to_state) == ("qa-lead", "verified")
            assert last.note is not None
            assert last.note.startswith("confirmed despite telemetry still showing the fault")
            assert last.note.endswith(": checked on site, sensor suspect")
            wait(
                driver,
                lambda d: d.find_elements(
                    "css selector", "[data-testid=history-entry][data-confirmed=true]"
                ),
            )
            screenshot(driver, f"confirmed-history-{tag}")
    finally:
        runner.stop()
        sim.join(10)
        service.stop()
