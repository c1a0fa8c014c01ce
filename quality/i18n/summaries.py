"""A finding's summary in every language, from the message a detector describes it by.

Detectors cannot import the catalog (the layers keep `detectors` and `quality` apart), so a
finding carries its summary as English text plus a message: a key (`summaries.<key>`) and
the values of its placeholders. Values that name things are translated too: `metric` by
its label (`evidence.metric.<name>`), `kind` by the device kind's (`board.kind.<kind>`).
Text without a key (tickets reported by hand, older tickets), an unknown key or params
that do not fit the template fall back to the stored text in both languages: a person's
own words are never translated, and a reader always sees something.

>>> summary_labels("held_open", {"held_s": 61.2, "limit_s": 60}, "door held open for 61 s")
{'zh-CN': '门保持开启 61 秒（上限 60 秒）', 'en': 'door held open for 61 s (limit 60 s)'}
>>> summary_labels(None, {}, "lift smells of smoke")["zh-CN"]
'lift smells of smoke'
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from quality.i18n.catalog_loader import LANGUAGES, Language, load_catalog, parse_language

log = logging.getLogger(__name__)

PREFIX = "summaries."
# Placeholders whose value is a name with its own label: the catalog key it is shown by.
NAMED_VALUES: Mapping[str, str] = {"metric": "evidence.metric.", "kind": "board.kind."}

_CATALOG = load_catalog()


def _shown(name: str, value: Any, lang: Language) -> Any:
    prefix = NAMED_VALUES.get(name)
    if prefix is None or not isinstance(value, str):
        return value
    entry = _CATALOG.get(prefix + value)
    return entry[lang] if entry else value


def summary_label(
    key: str | None, params: Mapping[str, Any] | None, fallback: str, lang: str
) -> str:
    """The summary in `lang` (zh-CN or en); `fallback` when there is no usable message."""
    return summary_labels(key, params, fallback)[parse_language(lang)]


def summary_labels(
    key: str | None, params: Mapping[str, Any] | None, fallback: str
) -> dict[str, str]:
    """The summary in every language, by language tag (zh-CN, en)."""
    entry = _CATALOG.get(PREFIX + key) if key else None
    if entry is None:
        if key:
            log.warning("summary key %r is not in the catalog: showing the stored text", key)
        return dict.fromkeys(LANGUAGES, fallback)
    values = dict(params or {})
    labels: dict[str, str] = {}
    for lang in LANGUAGES:
        shown = {name: _shown(name, value, lang) for name, value in values.items()}
        try:
            labels[lang] = entry[lang].format(**shown)
        except (KeyError, ValueError, TypeError, IndexError):
            log.warning("summary %r does not fit params %r: showing the stored text", key, values)
            return dict.fromkeys(LANGUAGES, fallback)
    return labels
