"""What a person reads about the ticket loop, in Chinese and English, in the glossary's words.

The API returns these next to the codes (`state` stays `"acknowledged"`; its label is
接单 / acknowledged), so that the board, reports and notifications name the loop as a
quality department does (检查-发现-派单-接单-整改-复核-销项).

>>> STATE_LABELS["acknowledged"]["zh-CN"]
'已接单'
>>> bilingual("red card", "红牌")
'red card / 红牌'
"""

from __future__ import annotations

from typing import Final

from quality.tickets.lifecycle import State
from quality.tickets.policy import STAGES

LANGUAGES: Final = ("zh-CN", "en")

Label = dict[str, str]


def _label(zh: str, en: str) -> Label:
    return {"zh-CN": zh, "en": en}


STATE_LABELS: Final[dict[str, Label]] = {
    State.OPEN: _label("待派单", "open"),
    State.DISPATCHED: _label("已派单", "dispatched"),
    State.ACKNOWLEDGED: _label("已接单", "acknowledged"),
    State.RECTIFIED: _label("已整改", "rectified"),
    State.VERIFIED: _label("已复核", "re-checked"),
    State.CLOSED: _label("已销项", "closed out"),
    State.REOPENED: _label("重新打开", "reopened"),
}

# The SLA clocks, by the step they wait for.
STAGE_LABELS: Final[dict[str, Label]] = {
    "dispatch": _label("派单", "dispatch"),
    "acknowledge": _label("接单", "acknowledge"),
    "rectify": _label("整改", "rectify"),
    "recheck": _label("复核", "re-check"),
}

CARD_LABELS: Final[dict[str, Label]] = {
    "none": _label("无", "none"),
    "yellow": _label("黄牌", "yellow card"),
    "red": _label("红牌", "red card"),
}

OTHER_LABELS: Final[dict[str, Label]] = {
    "false_alarm": _label("误报", "false alarm"),
    "response_time": _label("响应时间", "response time"),
    "close_out": _label("销项", "close out"),
    "equipment": _label("设备", "equipment"),
    "contractor": _label("维保单位", "maintenance contractor"),
    "team": _label("班组", "team"),
}

assert set(STATE_LABELS) == {state.value for state in State}
assert set(STAGE_LABELS) == set(STAGES)


def bilingual(en: str, zh: str) -> str:
    """One line a person reads in both languages: the English, then the Chinese."""
    return f"{en} / {zh}"


def all_labels() -> dict[str, dict[str, Label]]:
    """Every label, by group, for clients that show them (`GET /api/lifecycle`)."""
    return {
        "states": {str(k): v for k, v in STATE_LABELS.items()},
        "stages": dict(STAGE_LABELS),
        "cards": dict(CARD_LABELS),
        "other": dict(OTHER_LABELS),
    }
