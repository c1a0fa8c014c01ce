"""A detector's summary on the board in real headless Chromium, in the chosen language:
the ticket's detail and the list's row read the Chinese message in zh-CN and the English
one in en (the detector's own finding, recorded in a real store)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.app import create_app
from detectors.access_held_open import DoorHeldOpenDetector
from quality.i18n.summaries import summary_labels
from tests.board.browser import DESKTOP, chromium, click, open_board, sign_in_with_token, text, wait
from tests.board.live import LiveServer
from tests.databases import fresh_stores
from tests.detectors.test_contract_all_detectors import SPECS, run


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str, int, dict[str, str]]]:
    with fresh_stores("sqlite", tmp_path_factory.mktemp("summary"), "summary") as stores:
        _, finding = run(DoorHeldOpenDetector, SPECS[DoorHeldOpenDetector].fault())[0]
        ticket_id = stores.tickets.record(finding).ticket_id
        labels = summary_labels(finding.summary_key, finding.summary_params, finding.summary)
        token = stores.tokens.create("quality", "qa")[1]
        with LiveServer(create_app(stores)) as live:
            yield live.url, token, ticket_id, labels


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_board_shows_the_summary_in_the_chosen_language(
    served: tuple[str, str, int, dict[str, str]], lang: str
) -> None:
    base, token, ticket_id, labels = served
    assert labels["zh-CN"].startswith("门保持开启")
    with chromium(DESKTOP) as driver:
        sign_in_with_token(driver, base, token, lang)
        open_board(driver, base + "/")
        click(driver, f"[data-testid=ticket-{ticket_id}] [data-testid=open-ticket]")
        wait(driver, lambda d: text(d, "[data-testid=summary]") == labels[lang])
        open_board(driver, base + "/?view=list")
        wait(driver, lambda d: labels[lang] in text(d, ".row-meta"))
