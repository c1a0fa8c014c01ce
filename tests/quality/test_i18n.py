"""Every string a person reads exists in zh-CN and en: the catalog is complete, every key
the code and the pages use is in it, and the pages carry no untranslated text."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest

from quality.i18n import LANGUAGES, CatalogError, catalog, negotiate, text, texts
from quality.i18n.catalog_loader import load_catalog

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "api" / "static"
PRODUCT_PACKAGES = ("api", "quality", "ingest", "facmon", "dashboards", "detectors")

# text("key", ...) / texts("key", ...) in Python; t("key") and data-i18n*="key" in pages.
PY_KEY = re.compile(r"""\btexts?\(\s*["']([a-z0-9_]+(?:\.[a-z0-9_-]+)+)["']""")
PAGE_KEY = re.compile(
    r"""(?:\bt\(\s*["']|data-i18n(?:-[a-z]+)?=["'])([a-z0-9_]+(?:\.[a-z0-9_-]+)+)["']"""
)


def _pages() -> list[Path]:
    return [
        p
        for p in sorted(STATIC.rglob("*"))
        if p.suffix in {".html", ".js", ".mjs"} and "vendor" not in p.parts
    ]


def test_every_entry_has_every_language() -> None:
    entries = load_catalog()
    assert entries, "the catalog is empty"
    for key, value in entries.items():
        assert set(value) == set(LANGUAGES), key


def test_an_entry_missing_a_language_is_refused(tmp_path: Path) -> None:
    (tmp_path / "board.yaml").write_text(
        "title:\n  zh-CN: 工单看板\n  en: Ticket board\nsave:\n  zh-CN: 保存\n", encoding="utf-8"
    )
    with pytest.raises(CatalogError, match=r"save: missing translation \['en'\]"):
        load_catalog(tmp_path)


def test_placeholders_must_match_between_languages(tmp_path: Path) -> None:
    (tmp_path / "mail.yaml").write_text(
        "due:\n  zh-CN: '{hours} 小时内整改'\n  en: 'rectify within {hour} hours'\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError, match="placeholders differ"):
        load_catalog(tmp_path)


def test_every_key_the_code_uses_is_in_the_catalog() -> None:
    known = set(load_catalog())
    missing: list[str] = []
    for package in PRODUCT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for key in PY_KEY.findall(path.read_text(encoding="utf-8")):
                if key not in known:
                    missing.append(f"{path.relative_to(ROOT)}: {key}")
    for path in _pages():
        for key in PAGE_KEY.findall(path.read_text(encoding="utf-8")):
            if key not in known:
                missing.append(f"{path.relative_to(ROOT)}: {key}")
    assert not missing, "keys without a catalog entry:\n" + "\n".join(missing)


class _UntranslatedText(HTMLParser):
    """Collects text a person would read that is not under an element with data-i18n."""

    SKIP: ClassVar = frozenset({"script", "style", "template", "code"})
    VOID: ClassVar = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        for name, value in attrs:
            readable = name in {"title", "placeholder", "aria-label", "alt"} and value
            words = re.search(r"[A-Za-z\u4e00-\u9fff]", value or "")
            if readable and words and f"data-i18n-{name}" not in names:
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag in self.VOID:
            return
        translated = "data-i18n" in names or tag in self.SKIP
        inherited = any(flag for _, flag in self.stack)
        self.stack.append((tag, translated or inherited))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            name, _ = self.stack.pop()
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        covered = any(flag for _, flag in self.stack)
        if not covered and re.search(r"[A-Za-z\u4e00-\u9fff]{2,}", data):
            self.found.append(data.strip()[:60])


@pytest.mark.parametrize("page", [p for p in _pages() if p.suffix == ".html"], ids=str)
def test_pages_carry_no_untranslated_text(page: Path) -> None:
    parser = _UntranslatedText()
    parser.feed(page.read_text(encoding="utf-8"))
    assert not parser.found, (
        f"{page.name}: text outside data-i18n (add a catalog key): {parser.found[:10]}"
    )


def test_texts_fill_placeholders_in_each_language() -> None:
    assert texts("common.integrity_rate") == {
        "zh-CN": "设备完好率",
        "en": "equipment integrity rate",
    }
    assert text("common.red_card", "en-US") == "red card"
    assert catalog("zh", prefix="common.")["common.close_out"] == "销项"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN,zh;q=0.9", "zh-CN"),
        ("en-US,en;q=0.8", "en"),
        ("fr-FR", "zh-CN"),
        ("fr;q=1,en;q=0.5,zh;q=0.4", "en"),
    ],
)
def test_the_browser_language_picks_the_default(header: str, language: str) -> None:
    assert negotiate(header) == language


@pytest.mark.parametrize("script", [p for p in _pages() if p.suffix != ".html"], ids=str)
def test_scripts_take_chinese_from_the_catalog(script: Path) -> None:
    """Chinese written into a script is text the English page would show untranslated
    (the language switch's own name, 中文, excepted)."""
    code = re.sub(r"//[^\n]*|/\*.*?\*/", "", script.read_text(encoding="utf-8"), flags=re.S)
    literal = [m for m in re.findall(r"[\u4e00-\u9fff]+", code) if m != "中文"]
    assert not literal, f"{script.name}: Chinese outside the catalog: {literal[:10]}"
