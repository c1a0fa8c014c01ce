"""Loads and checks the translation catalog (see `quality.i18n`)."""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path
from typing import Final, Literal

import yaml

Language = Literal["zh-CN", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("zh-CN", "en")
# The first users are a Chinese property company's quality department.
DEFAULT_LANGUAGE: Final[Language] = "zh-CN"
CATALOG_DIR: Final = Path(__file__).parent / "catalog"


class CatalogError(ValueError):
    """A catalog entry that is missing a language, empty, or inconsistent."""


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def load_catalog(directory: Path = CATALOG_DIR) -> dict[str, dict[Language, str]]:
    """Every key of every catalog file, checked: each language present, non-empty, and
    with the same placeholders as the others."""
    entries: dict[str, dict[Language, str]] = {}
    problems: list[str] = []
    for path in sorted(directory.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(raw, dict):
            problems.append(f"{path.name}: must map keys to {{zh-CN: ..., en: ...}}")
            continue
        for short, value in raw.items():
            key = f"{path.stem}.{short}"
            if not isinstance(value, dict):
                problems.append(f"{path.name}: {short}: must map zh-CN and en to text")
                continue
            unknown = set(value) - set(LANGUAGES)
            if unknown:
                problems.append(f"{path.name}: {short}: unknown language {sorted(unknown)}")
            missing = [
                lang
                for lang in LANGUAGES
                if not isinstance(value.get(lang), str) or not value[lang].strip()
            ]
            if missing:
                problems.append(f"{path.name}: {short}: missing translation {missing}")
                continue
            shapes = {lang: _placeholders(value[lang]) for lang in LANGUAGES}
            if len({frozenset(s) for s in shapes.values()}) > 1:
                problems.append(f"{path.name}: {short}: placeholders differ {shapes}")
            entries[key] = {lang: value[lang] for lang in LANGUAGES}
    if problems:
        raise CatalogError("translation catalog: " + "; ".join(problems))
    return entries


@cache
def _entries() -> dict[str, dict[Language, str]]:
    return load_catalog()


def parse_language(value: str | None) -> Language:
    """A supported language from a user's or a setting's choice ('zh', 'zh-cn', 'en-US'
    ...), the default for anything else."""
    if not value:
        return DEFAULT_LANGUAGE
    lowered = value.strip().lower()
    if lowered.startswith("zh"):
        return "zh-CN"
    if lowered.startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def negotiate(accept_language: str | None) -> Language:
    """The first supported language of an HTTP Accept-Language header, by weight."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((-weight, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith(("zh", "en")):
            return parse_language(tag)
    return DEFAULT_LANGUAGE


def text(key: str, lang: str, /, **params: object) -> str:
    """The text of `key` in `lang`, with `{placeholders}` filled. An unknown key is a
    KeyError: the catalog test finds every key the code uses."""
    template = _entries()[key][parse_language(lang)]
    return template.format(**params) if params else template


def texts(key: str, /, **params: object) -> dict[Language, str]:
    """The text of `key` in every language, for answers that carry both."""
    return {lang: text(key, lang, **params) for lang in LANGUAGES}


def catalog(lang: str, prefix: str = "") -> dict[str, str]:
    """Every key (optionally under `prefix`) in one language, for the browser."""
    chosen = parse_language(lang)
    return {key: value[chosen] for key, value in _entries().items() if key.startswith(prefix)}


__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "CatalogError",
    "Language",
    "catalog",
    "load_catalog",
    "negotiate",
    "parse_language",
    "text",
    "texts",
]
