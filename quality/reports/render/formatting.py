"""How a report writes its figures: percentages, durations, times in the period's zone,
and the codes (fault types, severities) in the report's language.

>>> percent(97.456), percent(None), signed_change("integrity_pct", -1.5, "en")
('97.5 %', '—', '-1.5 pt')
>>> duration(5400, "en"), duration(5400, "zh-CN"), duration(600, "en")
('1.5 h', '1.5 小时', '10 min')
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from quality.i18n import catalog, parse_language, text
from quality.inspections.categories import CATEGORIES

DASH = "—"


def percent(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f} %"


def duration(seconds: float | None, lang: str) -> str:
    """Minutes under an hour, hours under two days, days beyond."""
    if seconds is None:
        return DASH
    if seconds < 3600:
        return f"{seconds / 60:.0f} {text('reports.unit.min', lang)}"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} {text('reports.unit.h', lang)}"
    return f"{seconds / 86400:.1f} {text('reports.unit.d', lang)}"


def figure(code: str, value: float | None, lang: str) -> str:
    """A KPI's value in its unit: a share, or a time."""
    return duration(value, lang) if code.endswith("_s") else percent(value)


def signed_change(code: str, change: float | None, lang: str) -> str:
    """A change against the previous period: points for shares, a time for times."""
    if change is None:
        return DASH
    sign = "+" if change > 0 else "-" if change < 0 else "±"
    if code.endswith("_s"):
        return sign + duration(abs(change), lang)
    return f"{sign}{abs(change):.1f} pt"


def moment(value: datetime | None, zone: str) -> str:
    """24-hour time in the report's zone, with the zone's offset."""
    if value is None:
        return DASH
    local = value.astimezone(ZoneInfo(zone))
    offset = local.strftime("%z") or "+0000"
    return f"{local:%Y-%m-%d %H:%M} UTC{offset[:3]}:{offset[3:]}"


def day(value: datetime | None, zone: str) -> str:
    if value is None:
        return DASH
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d")


def fault_name(code: str, lang: str) -> str:
    """A fault type's name as the rest of the product says it (the inspection categories
    name every detector's fault type), else a catalog's (`faults.<code>`, or an area's
    `<area>.fault.<code>`), else its code in words.

    >>> fault_name("door_slowing", "zh-CN"), fault_name("maintenance", "en")
    ('电梯门开关变慢', 'planned maintenance')
    """
    label = CATEGORIES.get(code)
    if label:
        return label[parse_language(lang)]
    names = catalog(lang)
    for key in (f"faults.{code}", *sorted(k for k in names if k.endswith(f".fault.{code}"))):
        if key in names:
            return names[key]
    return code.replace("_", " ")


def kind_name(kind: str, lang: str) -> str:
    """An equipment kind's name (电梯, 照明, 水泵, 门禁); an unknown kind as it is."""
    return catalog(lang, prefix="reports.equipment.").get(f"reports.equipment.{kind}", kind)
