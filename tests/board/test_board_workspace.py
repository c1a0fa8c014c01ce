"""The board as the quality team uses it, in real headless Chromium at 1366×768 and
390×844, in zh-CN and en: filters kept in the address (and restored by a reload), paging
past the first page, comments, severity override, dispatch and reassignment, bulk dispatch,
errors that stay until dismissed, the detail beside the columns, and a ticket opened by hand
with a photo. Every page state is checked for sideways scrolling and by axe-core, and
photographed under test-output/board/."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from api.app import create_app
from api.deps import users_for
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.service import Stores
from facmon.settings import Settings
from quality.tickets.lifecycle import Role
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
    rendered,
    screenshot,
    sign_in_with_token,
    text,
    type_into,
    wait,
    wait_rerender,
)
from tests.board.live import LiveServer

CASES = [
    pytest.param(DESKTOP, "zh-CN", id="1366-zh"),
    pytest.param(PHONE, "en", id="390-en"),
    pytest.param(DESKTOP, "en", id="1366-en"),
    pytest.param(PHONE, "zh-CN", id="390-zh"),
]
# What the page says in each language, from the catalog (quality/i18n/catalog/board.yaml).
WORDS = {
    "zh-CN": {
        "critical": "紧急",
        "waiting": "等待遥测复核",
        "dispatched": "已派单",
        "title": "工单看板",
    },
    "en": {
        "critical": "critical",
        "waiting": "waiting for the telemetry re-check",
        "dispatched": "dispatched",
        "title": "Ticket board",
    },
}


# The label of the evidence field `value` (quality/i18n/catalog/evidence.yaml).
EVIDENCE_LABEL = {"zh-CN": "实测值", "en": "Measured value"}


def finding(
    site: str, building: str, kind: str, device: str, fault: str, severity: Severity
) -> Finding:
    return Finding(
        DeviceRef(site, building, kind, device),
        fault,
        severity,
        "test-detector",
        "1",
        1_800_000_000_000,
        f"{device} {fault.replace('_', ' ')}",
        {"metric": "door_close_s", "value": 4.2},
    )


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    opened = Stores.open(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    yield opened
    opened.close()


def seed(stores: Stores, hq: int = 60, riverside: int = 10) -> dict[str, list[int]]:
    """`hq` elevators (buildings b1/b2, major and minor) and `riverside` critical pumps."""
    ids: dict[str, list[int]] = {"hq": [], "riverside": []}
    for n in range(hq):
        severity = Severity.MAJOR if n % 2 else Severity.MINOR
        found = finding("hq", f"b{n % 2 + 1}", "elevator", f"lift-{n}", "door_slowing", severity)
        ids["hq"].append(stores.tickets.record(found).ticket_id)
    for n in range(riverside):
        found = finding("riverside", "plant", "pump", f"pump-{n}", "dry_running", Severity.CRITICAL)
        ids["riverside"].append(stores.tickets.record(found).ticket_id)
    return ids


@pytest.fixture
def live(stores: Stores) -> Iterator[LiveServer]:
    with LiveServer(create_app(stores)) as server:
        yield server


def board(driver: WebDriver, live: LiveServer, stores: Stores, lang: str, path: str = "/") -> None:
    token = stores.tokens.create("quality", "qa-lead")[1]
    sign_in_with_token(driver, live.url, token, lang)
    open_board(driver, live.url + path)
    assert driver.execute_script("return document.documentElement.lang") == lang


def cards(driver: WebDriver, column: str) -> list[str]:
    return ids_of(driver, f"[data-testid=column-{column}] article")


def rows(driver: WebDriver) -> list[str]:
    return ids_of(driver, "[data-testid^=row-]")


def query(driver: WebDriver) -> dict[str, list[str]]:
    return parse_qs(urlparse(driver.current_url).query)


def show_filters(driver: WebDriver) -> None:
    box = css(driver, "#filters-box")
    if box.get_attribute("open") is None:
        box.find_element(By.TAG_NAME, "summary").click()


def checked(driver: WebDriver, name: str) -> None:
    no_sideways_scroll(driver)
    assert_accessible(driver)
    screenshot(driver, name)


@pytest.mark.parametrize(("size", "lang"), CASES)
def test_filters_live_in_the_address_and_paging_reaches_every_ticket(
    stores: Stores, live: LiveServer, size: tuple[int, int], lang: str
) -> None:
    ids = seed(stores)
    tag = f"{size[0]}-{lang}"
    with chromium(size) as driver:
        board(driver, live, stores, lang)
        # 70 open tickets: the first page of the column shows 25 of them, and says so.
        wait(driver, lambda d: len(cards(d, "open")) == 25)
        assert "25/70" in text(driver, "[data-testid=column-open] h2")
        checked(driver, f"kanban-{tag}")

        show_filters(driver)
        before = rendered(driver)
        Select(css(driver, "[data-testid=filter-site]")).select_by_value("riverside")
        wait_rerender(driver, before)
        wait(driver, lambda d: len(cards(d, "open")) == 10)
        assert query(driver)["site"] == ["riverside"]
        assert sorted(cards(driver, "open")) == sorted(f"ticket-{i}" for i in ids["riverside"])
        assert WORDS[lang]["critical"] in text(driver, "[data-testid=column-open]")

        search = css(driver, "[data-testid=filter-q]")
        search.send_keys("pump-3", Keys.ENTER)
        wait(driver, lambda d: cards(d, "open") == [f"ticket-{ids['riverside'][3]}"])
        assert query(driver)["q"] == ["pump-3"]
        checked(driver, f"filtered-{tag}")

        # A reload (or a shared link) restores the same view: the form and the result.
        driver.refresh()
        open_board(driver, driver.current_url)
        wait(driver, lambda d: cards(d, "open") == [f"ticket-{ids['riverside'][3]}"])
        assert css(driver, "[data-testid=filter-site]").get_attribute("value") == "riverside"
        assert css(driver, "[data-testid=filter-q]").get_attribute("value") == "pump-3"

        # The date range is in the browser's calendar days; overdue means a deadline passed.
        today = driver.execute_script(
            "const d = new Date(); const p = (n) => String(n).padStart(2, '0');"
            "return [d.getFullYear(), p(d.getMonth() + 1), p(d.getDate())].join('-')"
        )
        open_board(driver, live.url + f"/?from={today}&to={today}")
        wait(driver, lambda d: "25/70" in text(d, "[data-testid=column-open] h2"))
        assert css(driver, "[data-testid=filter-from]").get_attribute("value") == today
        open_board(driver, live.url + "/?to=2020-01-01")
        wait(driver, lambda d: "0/0" in text(d, "[data-testid=column-open] h2"))
        open_board(driver, live.url + "/?overdue=true")
        wait(driver, lambda d: "0/0" in text(d, "[data-testid=column-open] h2"))
        assert css(driver, "[data-testid=filter-overdue]").is_selected()

        # Filters a link carries: hq's building b2 and major severity, in the list view.
        open_board(driver, live.url + "/?site=hq&building=b2&severity=major&view=list")
        wanted = [i for n, i in enumerate(ids["hq"]) if n % 2]
        wait(driver, lambda d: len(rows(d)) == 25)
        assert css(driver, "[data-testid=filter-building]").get_attribute("value") == "b2"
        assert set(rows(driver)) <= {f"row-{i}" for i in wanted}

        # Paging past the first page, to the end: every ticket of the filter is reached.
        before = rendered(driver)
        click(driver, "[data-testid=filter-clear]")
        wait(driver, lambda d: "site" not in query(d))
        wait_rerender(driver, before)
        wait(driver, lambda d: len(rows(d)) == 25)
        for expected in (50, 70):
            click(driver, "[data-testid=more-list]")
            wait(driver, lambda d, n=expected: len(rows(d)) == n)  # type: ignore[misc]
        assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid=more-list]")
        assert set(rows(driver)) == {f"row-{i}" for i in ids["hq"] + ids["riverside"]}
        assert query(driver)["view"] == ["list"]
        checked(driver, f"list-paged-{tag}")


def open_detail(driver: WebDriver, ticket_id: int) -> None:
    click(driver, f"[data-testid=ticket-{ticket_id}] [data-testid=open-ticket]")
    wait(
        driver,
        lambda d: text(d, "[data-testid=detail-title]").startswith(f"#{ticket_id} "),
    )


@pytest.mark.parametrize(("size", "lang"), CASES)
def test_comments_severity_dispatch_reassign_and_bulk_dispatch(
    stores: Stores, live: LiveServer, size: tuple[int, int], lang: str
) -> None:
    ids = seed(stores, hq=5, riverside=0)["hq"]
    first, second, third, fourth, dismissed = ids
    stores.tickets.transition(dismissed, "closed", "qa", Role.QUALITY, "false alarm")
    tag = f"{size[0]}-{lang}"
    with chromium(size) as driver:
        board(driver, live, stores, lang)
        wait(driver, lambda d: len(cards(d, "open")) == 4)
        open_detail(driver, first)
        assert query(driver)["ticket"] == [str(first)]
        detail = css(driver, "[data-testid=detail]").rect
        if size == DESKTOP:
            # The detail sits beside the board: no column is under it.
            for column in driver.find_elements(By.CSS_SELECTOR, "[data-testid^=column-]"):
                assert column.is_displayed()
                assert column.rect["x"] + column.rect["width"] <= detail["x"] + 1, (
                    column.get_attribute("data-testid")
                )
        else:
            # On a phone the detail is a page of its own; "back" returns to the board.
            assert not css(driver, "[data-testid=views]").is_displayed()
            assert detail["width"] <= size[0]
        # The evidence module calls the API with this tab's bearer token too: its labelled
        # fields, not the fallback table of raw keys (it once answered 401 here).
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=evidence-fields]"))
        assert EVIDENCE_LABEL[lang] in text(driver, "[data-testid=evidence-fields]")
        assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid=evidence-table]")

        css(driver, "[data-testid=comment-text]").send_keys("备件已订 spare part ordered")
        click(driver, "[data-testid=comment-add]")
        wait(
            driver,
            lambda d: "spare part ordered" in text(d, "[data-testid=comments]"),
        )
        assert [c.text for c in stores.tickets.comments(first)] == ["备件已订 spare part ordered"]

        Select(css(driver, "[data-testid=severity-select]")).select_by_value("critical")
        click(driver, "[data-testid=severity-save]")
        wait(
            driver,
            lambda d: text(d, "[data-testid=detail-severity]") == WORDS[lang]["critical"],
        )
        assert stores.tickets.require(first).severity == "critical"

        css(driver, "[data-testid=assignee]").send_keys("lift-team")
        css(driver, "[data-testid=contractor]").send_keys("Otis")
        click(driver, "[data-testid=to-dispatched]")
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=reassign]"))
        assert WORDS[lang]["dispatched"] in text(driver, "[data-testid=detail-title]")
        assignee = css(driver, "[data-testid=assignee]")
        assignee.clear()
        assignee.send_keys("night-team")
        click(driver, "[data-testid=reassign]")
        wait(
            driver,
            lambda d: "night-team" in text(d, "[data-testid=detail-party]"),
        )
        ticket = stores.tickets.require(first)
        assert (ticket.state, ticket.assignee, ticket.contractor) == (
            "dispatched",
            "night-team",
            "Otis",
        )
        assert stores.tickets.history(first)[-1].note == "reassigned to night-team"
        checked(driver, f"detail-{tag}")

        click(driver, "[data-testid=detail-close]")
        wait(driver, lambda d: "ticket" not in query(d))
        wait(
            driver, lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=views]").is_displayed()
        )

        # Bulk dispatch: two open tickets and one closed; the closed one is refused, by name.
        open_board(driver, live.url + "/?state=open,closed")
        for ticket_id in (second, third, dismissed):
            click(driver, f"[data-testid=pick-{ticket_id}]")
        css(driver, "[data-testid=bulk-assignee]").send_keys("door-team")
        click(driver, "[data-testid=bulk-dispatch]")
        poll(lambda: stores.tickets.require(third).state == "dispatched")
        for ticket_id in (second, third):
            assert (
                stores.tickets.require(ticket_id).state,
                stores.tickets.require(ticket_id).assignee,
            ) == (
                "dispatched",
                "door-team",
            )
        assert stores.tickets.require(dismissed).state == "closed"
        assert stores.tickets.require(fourth).state == "open"
        wait(driver, lambda d: f"#{dismissed}" in text(d, "[data-testid=errors]"))
        # The error stays through refreshes until it is dismissed.
        before = rendered(driver)
        click(driver, "[data-testid=refresh]")
        wait_rerender(driver, before)
        assert f"#{dismissed}" in text(driver, "[data-testid=errors]")
        checked(driver, f"bulk-error-{tag}")
        click(driver, "[data-testid=error-dismiss]")
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid=error]"))


def photo(path: Path) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize(("size", "lang"), CASES)
def test_a_ticket_opened_by_hand_with_a_photo(
    stores: Stores, live: LiveServer, size: tuple[int, int], lang: str, tmp_path: Path
) -> None:
    seed(stores, hq=2, riverside=0)
    tag = f"{size[0]}-{lang}"
    with chromium(size) as driver:
        board(driver, live, stores, lang)
        click(driver, "[data-testid=new-ticket]")
        photos = css(driver, "[data-testid=manual-photos]")
        assert photos.get_attribute("accept") == "image/*"
        assert photos.get_attribute("capture") == "environment"
        # Nothing filled: each missing field is named, and nothing is sent.
        click(driver, "[data-testid=manual-submit]")
        assert len(driver.find_elements(By.CSS_SELECTOR, "[data-testid=manual-error]")) == 3
        checked(driver, f"manual-form-{tag}")

        css(driver, "[data-testid=manual-site]").send_keys("hq")
        css(driver, "[data-testid=manual-building]").send_keys("b1")
        css(driver, "[data-testid=manual-floor]").send_keys("B2")
        css(driver, "[data-testid=manual-place]").send_keys("garage ramp")
        Select(css(driver, "[data-testid=manual-category]")).select_by_value("illuminance_low")
        Select(css(driver, "[data-testid=manual-severity]")).select_by_value("major")
        css(driver, "[data-testid=manual-description]").send_keys("坡道照明不足 ramp lights out")
        photos.send_keys(str(photo(tmp_path / "ramp.png")))
        click(driver, "[data-testid=manual-submit]")

        opened = poll(lambda: [t for t in stores.tickets.list() if t.kind == "place"])
        ticket = opened[0]
        assert (ticket.device_id, ticket.fault_type, ticket.severity) == (
            "place:b1/B2/garage ramp",
            "illuminance_low",
            "major",
        )
        assert len(ticket.evidence["photos"]) == 1
        wait(
            driver,
            lambda d: text(d, "[data-testid=detail-title]").startswith(f"#{ticket.id} "),
        )
        assert css(driver, "[data-testid=photos] img").get_attribute("alt")
        assert f"#{ticket.id}" in text(driver, "[data-testid=status]")
        # The place's floor filter finds it.
        open_board(driver, live.url + "/?floor=B2")
        wait(driver, lambda d: cards(d, "open") == [f"ticket-{ticket.id}"])
        checked(driver, f"manual-opened-{tag}")


@pytest.mark.parametrize(("size", "lang"), [CASES[0], CASES[1]])
def test_the_board_on_a_session_sign_in_redirect_csrf_writes_and_the_language_switch(
    stores: Stores, live: LiveServer, size: tuple[int, int], lang: str
) -> None:
    """Without a session the board sends the browser to /login and back; with the session
    cookie alone its writes carry the CSRF token (a comment is stored); the language switch
    re-translates the board and is remembered."""
    ticket = seed(stores, hq=1, riverside=0)["hq"][0]
    users_for(stores).create("li.na", "quality", "李娜", password="correct horse battery")
    with chromium(size) as driver:
        driver.get(live.url + "/api/i18n")
        driver.execute_script("localStorage.setItem('facmon.lang', arguments[0])", lang)
        driver.get(live.url + f"/?site=hq&ticket={ticket}")
        wait(driver, lambda d: urlparse(d.current_url).path == "/login")
        assert parse_qs(urlparse(driver.current_url).query)["next"] == [
            f"/?site=hq&ticket={ticket}"
        ]
        type_into(driver, "[data-testid=login-username]", "li.na")
        type_into(driver, "[data-testid=login-password]", "correct horse battery")
        click(driver, "[data-testid=login-submit]")
        wait(driver, lambda d: urlparse(d.current_url).path == "/")
        open_board(driver, driver.current_url)
        assert query(driver) == {"site": ["hq"], "ticket": [str(ticket)]}
        assert "李娜" in text(driver, "[data-testid=who]")
        wait(driver, lambda d: text(d, "[data-testid=detail-title]").startswith(f"#{ticket} "))
        assert driver.execute_script("return sessionStorage.getItem('facmon-token')") is None

        type_into(driver, "[data-testid=comment-text]", "现场已确认 seen on site")
        click(driver, "[data-testid=comment-add]")
        wait(driver, lambda d: "seen on site" in text(d, "[data-testid=comments]"))
        assert [(c.author, c.text) for c in stores.tickets.comments(ticket)] == [
            ("li.na", "现场已确认 seen on site")
        ]

        # The sign-in page may have applied the account's own language: switch to the other.
        shown = driver.execute_script("return document.documentElement.lang")
        other = "en" if shown == "zh-CN" else "zh-CN"
        before = text(driver, "[data-testid=column-open] h2")
        if size == PHONE:
            click(driver, "[data-testid=detail-close]")
        Select(css(driver, "[data-testid=language]")).select_by_value(other)
        wait(driver, lambda d: d.execute_script("return document.documentElement.lang") == other)
        wait(driver, lambda d: text(d, "h1") == WORDS[other]["title"])
        assert text(driver, "[data-testid=column-open] h2") != before
        driver.refresh()
        wait(driver, lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))
        assert driver.execute_script("return document.documentElement.lang") == other
        checked(driver, f"session-{size[0]}-{other}")
