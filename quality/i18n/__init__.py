"""Every string a person reads, in zh-CN and en, from one catalog.

Entries live in `catalog/*.yaml`, one file per area of the product (board, KPI page,
reports, notifications, accounts ...). A file `board.yaml` holding

    filters.site:
      zh-CN: 项目
      en: Site

defines the key `board.filters.site`. Loading refuses an entry that lacks a language, is
empty in one, or whose `{placeholders}` differ between languages, so a missing
translation fails at start-up and in `tests/quality/test_i18n.py`, never in front of a
user. The board fetches a language's whole table from `GET /api/i18n/{lang}`.

>>> text("common.language", "zh-CN")
'中文'
>>> negotiate("en-GB,en;q=0.9,zh;q=0.5")
'en'
>>> negotiate("zh-TW,zh;q=0.9")
'zh-CN'
>>> negotiate(None)
'zh-CN'
"""

from __future__ import annotations

from quality.i18n.catalog_loader import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    CatalogError,
    Language,
    catalog,
    negotiate,
    parse_language,
    text,
    texts,
)

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "CatalogError",
    "Language",
    "catalog",
    "negotiate",
    "parse_language",
    "text",
    "texts",
]
