"""A plan as the quality team writes it, checked field by field: every problem names the
field and the fix in English and Chinese, and nothing is stored until all are right.

>>> spec = validate_plan({"name": "pumps", "kind": "pump", "every_days": 30, "start": "2027-01-01"})
>>> (spec.kind, spec.every_days, spec.lead_days)
('pump', 30, 0)
>>> try:
...     validate_plan({"name": "x", "kind": "pump"})
... except Invalid as problem:
...     print(problem.field)
every_days
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

from quality.ledger.messages import Text
from quality.ledger.models import KINDS
from quality.ledger.validation import IDENTIFIER_PATTERN
from quality.maintenance.errors import Invalid
from quality.maintenance.rules import due_dates

FIELDS: Final = (
    "name",
    "site",
    "device_id",
    "kind",
    "every_days",
    "monthly_day",
    "rrule",
    "start",
    "lead_days",
    "checklist",
    "contractor",
    "active",
)
MAX_EVERY_DAYS: Final = 3660
MAX_LEAD_DAYS: Final = 365
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
_FREQS: Final = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_RULE_PARTS: Final = frozenset(
    {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "WKST"}
)
_MONTH_DAYS: Final = (
    {m: 31 for m in (1, 3, 5, 7, 8, 10, 12)} | {m: 30 for m in (4, 6, 9, 11)} | {2: 29}
)


@dataclass(frozen=True, slots=True)
class PlanSpec:
    name: str
    site: str | None
    device_id: str | None
    kind: str | None
    every_days: int | None
    rrule: str | None
    start: date
    lead_days: int
    checklist: str
    contractor: str | None
    active: bool


def _fail(field: str, en: str, zh: str) -> Invalid:
    return Invalid(Text(f"{field}: {en}", f"{field}：{zh}"), field)


def text_field(body: dict[str, Any], field: str, limit: int, required: bool = False) -> str | None:
    value = body.get(field)
    if value is None or value == "":
        if required:
            raise _fail(field, "is missing: give a value", "缺失：请填写")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(field, "must be text", "应为文本")
    if len(value) > limit:
        raise _fail(
            field, f"is too long: at most {limit} characters", f"过长：不超过 {limit} 个字符"
        )
    return value.strip()


def identifier_field(body: dict[str, Any], field: str) -> str | None:
    value = text_field(body, field, 64)
    if value is not None and not _IDENTIFIER.match(value):
        raise _fail(
            field,
            "may hold letters, digits and _ . : - only, starting with a letter or digit",
            "只能包含字母、数字和 _ . : -，并以字母或数字开头",
        )
    return value


def _whole(body: dict[str, Any], field: str, low: int, high: int) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(
            field,
            f"must be a whole number from {low} to {high}",
            f"应为 {low} 到 {high} 之间的整数",
        )
    return value


def _start(body: dict[str, Any], today: date) -> date:
    value = body.get("start")
    if value is None:
        return today
    try:
        return date.fromisoformat(value) if isinstance(value, str) else _bad_start()
    except ValueError:
        return _bad_start()


def _bad_start() -> date:
    raise _fail("start", "must be a date such as 2027-01-31", "应为日期，例如 2027-01-31")


def _rule(body: dict[str, Any], start: date) -> tuple[int | None, str | None]:
    every = _whole(body, "every_days", 1, MAX_EVERY_DAYS)
    monthly = _whole(body, "monthly_day", 1, 31)
    rule = text_field(body, "rrule", 500)
    given = [
        name
        for name, v in (("every_days", every), ("monthly_day", monthly), ("rrule", rule))
        if v is not None
    ]
    if not given:
        raise _fail(
            "every_days",
            "give every_days (a whole number of days), monthly_day or rrule",
            "请填写 every_days（间隔天数）、monthly_day（每月几号）或 rrule（重复规则）之一",
        )
    if len(given) > 1:
        raise _fail(
            given[1],
            f"give one rule only: {' and '.join(given)} are both set; remove one",
            f"只能填写一种规则：{'和'.join(given)} 同时填写了，请删除其一",
        )
    if monthly is not None:
        return None, f"FREQ=MONTHLY;BYMONTHDAY={monthly}"
    if rule is not None:
        rule = rule.removeprefix("RRULE:")
        if "DTSTART" in rule.upper():
            raise _fail(
                "rrule",
                "must not hold DTSTART: use the start field",
                "不能包含 DTSTART：请使用 start 字段",
            )
        _check_rule_parts(rule)
        try:  # within five years of the start: bounded however odd the rule
            has_one = bool(due_dates(start, None, rule, start, start + timedelta(days=5 * 366)))
        except (ValueError, TypeError, IndexError, KeyError, OverflowError):
            has_one = False
        if not has_one:
            raise _fail(
                "rrule",
                "is not an RFC 5545 rule giving a date within five years of the start, "
                "e.g. FREQ=MONTHLY;BYMONTHDAY=15",
                "不是在开始日期后五年内产生日期的 RFC 5545 重复规则，"
                "例如 FREQ=MONTHLY;BYMONTHDAY=15",
            )
    return every, rule


def _check_rule_parts(rule: str) -> None:
    """Only the parts a date plan needs: a rule whose parts can never meet (30 February)
    would make dateutil search to the year 9999 before it says so."""
    parts: dict[str, str] = {}
    for part in rule.upper().split(";"):
        name, _, value = part.partition("=")
        parts[name.strip()] = value.strip()
    unknown = sorted(set(parts) - _RULE_PARTS)
    if unknown or parts.get("FREQ") not in _FREQS:
        raise _fail(
            "rrule",
            f"use FREQ={'|'.join(_FREQS)} with only {', '.join(sorted(_RULE_PARTS - {'FREQ'}))}"
            + (f"; remove {', '.join(unknown)}" if unknown else ""),
            f"请使用 FREQ={'|'.join(_FREQS)}，只可包含 "
            f"{', '.join(sorted(_RULE_PARTS - {'FREQ'}))}"
            + (f"；请删除 {', '.join(unknown)}" if unknown else ""),
        )
    if "BYMONTH" in parts and "BYMONTHDAY" in parts:
        try:
            months = [int(v) for v in parts["BYMONTH"].split(",")]
            days = [int(v) for v in parts["BYMONTHDAY"].split(",")]
        except ValueError:
            return  # dateutil refuses it below, with the usual message
        if not any(1 <= abs(day) <= _MONTH_DAYS.get(month, 0) for month in months for day in days):
            raise _fail(
                "rrule",
                "BYMONTHDAY names no day that BYMONTH's months have: correct one of them",
                "BYMONTHDAY 中的日期在 BYMONTH 的月份中不存在：请修改其一",
            )


def validate_plan(body: Any, today: date | None = None) -> PlanSpec:
    """The plan in `body`, or Invalid naming the first field to fix."""
    if not isinstance(body, dict):
        raise Invalid(Text("the body must be a JSON object", "请求体应为 JSON 对象"), "body")
    for field in body:
        if field not in FIELDS:
            raise _fail(
                str(field),
                f"is not a field of a maintenance plan: remove it (fields: {', '.join(FIELDS)})",
                f"不是保养计划的字段：请删除（字段：{', '.join(FIELDS)}）",
            )
    name = text_field(body, "name", 128, required=True)
    site = identifier_field(body, "site")
    device_id = identifier_field(body, "device_id")
    kind = text_field(body, "kind", 16)
    if kind is not None and kind not in KINDS:
        raise _fail(
            "kind", f"must be one of {', '.join(KINDS)}", f"应为以下之一：{', '.join(KINDS)}"
        )
    if device_id is not None and kind is not None:
        raise _fail(
            "kind",
            "a plan is for one device (site and device_id) or for a kind: remove kind or device_id",
            "保养计划针对单台设备（site 和 device_id）或某类设备（kind）：请删除 kind 或 device_id",
        )
    if device_id is None and kind is None:
        raise _fail(
            "device_id",
            "name the device (site and device_id) or the kind of equipment the plan covers",
            "请填写计划针对的设备（site 和 device_id）或设备类别（kind）",
        )
    if device_id is not None and site is None:
        raise _fail(
            "site",
            "a device plan names the device's site",
            "单台设备的计划需要填写设备所在项目 site",
        )
    start = _start(body, today or date.today())
    every_days, rule = _rule(body, start)
    lead = _whole(body, "lead_days", 0, MAX_LEAD_DAYS)
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise _fail("active", "must be true or false", "应为 true 或 false")
    assert name is not None
    return PlanSpec(
        name=name,
        site=site,
        device_id=device_id,
        kind=kind,
        every_days=every_days,
        rrule=rule,
        start=start,
        lead_days=lead or 0,
        checklist=text_field(body, "checklist", 4000) or "",
        contractor=text_field(body, "contractor", 128),
        active=active,
    )
