"""Words a person reads from the ledger, in English and Chinese, chosen per reader.

Every problem the ledger reports carries both languages, so an API client or a report
file can show either; `pick` chooses one for a reader whose language is known (the
`Accept-Language` header, or `LANG` on the command line).

>>> Text("device id", "设备编号").pick("zh-CN")
'设备编号'
>>> language_of("zh-CN,zh;q=0.9,en;q=0.8"), language_of("en-GB"), language_of(None)
('zh', 'en', 'en')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, NamedTuple

Language = Literal["en", "zh"]


class Text(NamedTuple):
    en: str
    zh: str

    def pick(self, language: str | None) -> str:
        return self.zh if language_of(language) == "zh" else self.en

    def both(self) -> str:
        """Both at once, for places that cannot know the reader (logs, a shared file)."""
        return f"{self.en} / {self.zh}"


def language_of(preference: str | None) -> Language:
    """`zh` when the first language named is Chinese (an Accept-Language list or a
    locale such as zh_CN.UTF-8), else `en`."""
    if not preference:
        return "en"
    first = preference.split(",")[0].strip().lower()
    return "zh" if first.startswith("zh") else "en"


def terminal_language(environ: Mapping[str, str] | None = None) -> Language:
    """The language of the command line, from LC_ALL, LC_MESSAGES or LANG as POSIX orders them."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if env.get(name):
            return language_of(env[name])
    return "en"
