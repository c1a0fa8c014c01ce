"""A real report printed by headless Chromium: its pages rendered to PNG by pdftoppm, its
text read by pdftotext in both languages, and each chart's series colours counted in the
pixels of the page it is on (a chart that did not draw leaves none)."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import Engine

from contract.clock import ManualClock
from quality.i18n import text
from quality.reports.config import ReportSettings
from quality.reports.generator import Reporter
from quality.reports.pdca import PdcaChange, PdcaStore
from quality.reports.render.html import CHART_COLOURS
from tests.quality.reports.conftest import AS_OF, ECHARTS, signals

ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "test-output" / "reports"
TITLES = {"zh-CN": "电梯门机专项整改", "en": "Door operator tune-up"}
IMPROVED = {"zh-CN": "改善", "en": "improved"}
DISPATCH_LATE = {"zh-CN": "30 分钟", "en": "30 min"}  # T3's lateness in the overdue list
MIN_PIXELS = 400
"""At 60 dpi a drawn chart's series cover thousands of pixels; a legend swatch ~100."""


DPI = 60
CHART_HEIGHT_PT = 200.0
"""A chart is 250 CSS px tall (187.5 pt) below its title; a little margin."""
WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
)


def chart_rows(pdf: Path, title: str) -> tuple[int, int, int]:
    """(page index, first and last pixel row at `DPI`) of the chart under `title`, found by
    the title's words in the PDF's text layer (`pdftotext -bbox`)."""
    layout = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    tokens = [html.escape(t, quote=False) for t in title.split()]
    for index, page in enumerate(layout.split("<page ")[1:]):
        words = WORD.findall(page)
        for at in range(len(words) - len(tokens) + 1):
            if [w[4] for w in words[at : at + len(tokens)]] == tokens:
                top = float(words[at][3])
                scale = DPI / 72
                return index, int(top * scale), int((top + CHART_HEIGHT_PT) * scale)
    raise AssertionError(f"chart title {title!r} not printed")


def _hex(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)


def colour_pixels(
    png: Path, colour: str, tolerance: int = 12, rows: tuple[int, int] | None = None
) -> int:
    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)
    if rows is not None:
        pixels = pixels[rows[0] : rows[1]]
    return int((np.abs(pixels - _hex(colour)).max(axis=2) <= tolerance).sum())


@pytest.mark.parametrize(
    ("lang", "phrases"),
    [
        ("zh-CN", ["品质周报", "设备完好率", "维保单位考评", "超期工单", "PDCA", "电梯门开关变慢"]),
        (
            "en",
            [
                "Weekly quality report",
                "equipment integrity rate",
                "contractor scorecards",
                "Overdue tickets",
                "PDCA actions",
                "elevator door slowing",
            ],
        ),
    ],
)
def test_pdf_prints_text_and_every_chart(
    filled: tuple[Engine, Path], tmp_path: Path, lang: str, phrases: list[str]
) -> None:
    engine, series = filled
    PdcaStore(engine).create(
        PdcaChange(
            title=TITLES[lang],
            site="hq",
            target_kpi="integrity_pct",
            plan="door operators checked weekly",
            owner="qa-lead",
            started_at=datetime(2024, 5, 1, 10, tzinfo=UTC),
            finished_at=datetime(2024, 5, 1, 11, tzinfo=UTC),
        ),
        "qa-lead",
    )
    reporter = Reporter(
        engine,
        lambda: signals(series),
        tmp_path / "data",
        ECHARTS,
        ReportSettings(time_zone="UTC"),
        clock=ManualClock(AS_OF + timedelta(hours=1)),  # T3 is 30 min past its dispatch
    )
    made = reporter.generate("weekly", "hq", "2024-W18", lang, trigger="cli", by="test")
    report = made.report
    assert report is not None and report.status == "ready" and report.pdf_path
    pdf = Path(report.pdf_path)
    assert pdf.read_bytes().startswith(b"%PDF") and report.pdf_bytes == pdf.stat().st_size

    printed = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    for phrase in [*phrases, TITLES[lang], IMPROVED[lang], DISPATCH_LATE[lang]]:
        assert phrase in printed, f"{phrase!r} not printed in the {lang} report"

    pages = tmp_path / "pages"
    pages.mkdir()
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", str(pdf), str(pages / "p")], check=True)
    pngs = sorted(pages.glob("p-*.png"))
    assert pngs
    SHOTS.mkdir(parents=True, exist_ok=True)
    for png in pngs:
        shutil.copyfile(png, SHOTS / f"pdf-{lang}-{png.name}")
    # in each chart's area: the integrity chart's area fill, the stacked bars' major
    # tickets, the fault bars
    for chart, colour in (
        ("integrity", CHART_COLOURS["integrity"][1]),
        ("opened", CHART_COLOURS["opened"][1]),
        ("faults", CHART_COLOURS["faults"][0]),
    ):
        page, top, bottom = chart_rows(pdf, text(f"reports.chart.{chart}", lang))
        drawn = colour_pixels(pngs[page], colour, rows=(top, bottom))
        assert drawn >= MIN_PIXELS, f"chart {chart} drew {drawn} pixels of {colour}"


def test_an_undrawn_chart_leaves_no_series_pixels(tmp_path: Path) -> None:
    """The pixel check can fail: a page without the charts has none of their colours."""
    from quality.reports.render.chromium import print_pdf

    page = tmp_path / "blank.html"
    page.write_text(
        "<html><body><h1>x</h1><script>window.reportReady = true</script></body></html>"
    )
    pdf = tmp_path / "blank.pdf"
    pdf.write_bytes(print_pdf(page))
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(tmp_path / "b")], check=True)
    (png,) = sorted(tmp_path.glob("b-*.png"))
    for colours in CHART_COLOURS.values():
        assert all(colour_pixels(png, c) == 0 for c in colours)


def test_printing_waits_for_the_charts(tmp_path: Path) -> None:
    """A page that never says its charts finished is not printed half-drawn."""
    from quality.reports.render.chromium import PrintError, print_pdf

    page = tmp_path / "never.html"
    page.write_text("<html><body>never ready</body></html>")
    with pytest.raises(PrintError, match="in time"):
        print_pdf(page, timeout_s=3)
