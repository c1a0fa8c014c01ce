"""What the demo prints, in English and Chinese on one line (the glossary's words).

>>> line("quality lead: #3 closed", "品质主管：#3 已销项")
'quality lead: #3 closed / 品质主管：#3 已销项'
>>> fault_zh("door_held_open"), severity_zh("major")
('门长时间未关', '重要')
"""

from __future__ import annotations

from typing import Final

from quality.inspections.categories import CATEGORIES
from quality.ledger.messages import Text

SEVERITY_ZH: Final = {"critical": "紧急", "major": "重要", "minor": "一般"}


def line(en: str, zh: str) -> str:
    """One printed line: the English, then the Chinese."""
    return Text(en, zh).both()


def fault_zh(fault_type: str) -> str:
    label = CATEGORIES.get(fault_type)
    return label["zh-CN"] if label else fault_type


def severity_zh(severity: str) -> str:
    return SEVERITY_ZH.get(severity, severity)
