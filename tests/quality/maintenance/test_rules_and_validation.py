"""Plans as the quality team writes them: each wrong field named with its fix in both
languages, and due dates for interval and calendar rules worked out by hand."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from quality.maintenance.errors import Invalid
from quality.maintenance.rules import due_dates, due_moment
from quality.maintenance.validation import validate_plan

TODAY = date(2027, 3, 1)
GOOD: dict[str, Any] = {"name": "pump service", "kind": "pump", "every_days": 30}


def _cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": None}, "name"),
        ({"name": "  "}, "name"),
        ({"kind": "boiler"}, "kind"),
        ({"kind": None}, "device_id"),
        ({"device_id": "pump-1", "site": "s1"}, "kind"),
        ({"kind": None, "device_id": "pump-1"}, "site"),
        ({"kind": None, "device_id": "pump/1", "site": "s1"}, "device_id"),
        ({"every_days": None}, "every_days"),
        ({"every_days": 0}, "every_days"),
        ({"every_days": "7"}, "every_days"),
        ({"every_days": True}, "every_days"),
        ({"rrule": "FREQ=WEEKLY"}, "rrule"),  # two rules at once
        ({"every_days": None, "rrule": "FREQ=SOMETIMES"}, "rrule"),
        ({"every_days": None, "rrule": "DTSTART:20270101\nRRULE:FREQ=DAILY"}, "rrule"),
        ({"every_days": None, "monthly_day": 32}, "monthly_day"),
        ({"every_days": None, "rrule": "FREQ=HOURLY"}, "rrule"),
        ({"every_days": None, "rrule": "FREQ=DAILY;BYHOUR=8,20"}, "rrule"),
        ({"every_days": None, "rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"}, "rrule"),
        ({"every_days": None, "rrule": "FREQ=DAILY;UNTIL=20200101"}, "rrule"),
        ({"every_days": None, "rrule": "FREQ=MONTHLY;BYMONTH=4,6;BYMONTHDAY=31"}, "rrule"),
        ({"every_days": None, "rrule": "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=9"}, "rrule"),
        ({"every_days": None, "rrule": "FREQ=YEARLY;BYYEARDAY=400"}, "rrule"),
        ({"start": "31/01/2027"}, "start"),
        ({"start": 20270101}, "start"),
        ({"lead_days": -1}, "lead_days"),
        ({"lead_days": 366}, "lead_days"),
        ({"checklist": "x" * 4001}, "checklist"),
        ({"active": "yes"}, "active"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_each_wrong_field_is_named_with_its_fix(change: dict[str, Any], field: str) -> None:
    body = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(Invalid) as refused:
        validate_plan(body, TODAY)
    assert refused.value.field == field
    assert refused.value.status == 422
    assert refused.value.message.en.startswith(field)
    assert _cjk(refused.value.message.zh)


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(Invalid) as refused:
        validate_plan(["not", "an", "object"], TODAY)
    assert refused.value.field == "body"


def test_a_valid_plan_with_every_field() -> None:
    spec = validate_plan(
        {
            "name": "elevator monthly service",
            "site": "s1",
            "device_id": "lift-1",
            "monthly_day": 15,
            "start": "2027-01-01",
            "lead_days": 3,
            "checklist": "ropes, brakes, doors",
            "contractor": "Otis",
            "active": True,
        },
        TODAY,
    )
    assert (spec.site, spec.device_id, spec.kind) == ("s1", "lift-1", None)
    assert (spec.every_days, spec.rrule) == (None, "FREQ=MONTHLY;BYMONTHDAY=15")
    assert (spec.start, spec.lead_days, spec.contractor) == (date(2027, 1, 1), 3, "Otis")
    assert validate_plan(GOOD, TODAY).start == TODAY  # start defaults to today


def test_interval_due_dates_by_hand() -> None:
    start = date(2027, 1, 1)
    # every 14 days from 1 Jan: 1, 15, 29 Jan, 12, 26 Feb, 12 Mar
    assert due_dates(start, 14, None, date(2027, 1, 16), date(2027, 3, 12)) == [
        date(2027, 1, 29),
        date(2027, 2, 12),
        date(2027, 2, 26),
        date(2027, 3, 12),
    ]
    # never before the start
    assert due_dates(start, 14, None, date(2026, 12, 1), date(2027, 1, 10)) == [start]
    assert due_dates(start, 14, None, date(2027, 1, 2), date(2027, 1, 14)) == []


def test_calendar_due_dates_by_hand() -> None:
    start = date(2027, 1, 10)
    # monthly on the 31st: months without a 31st have none (RFC 5545)
    assert due_dates(
        start, None, "FREQ=MONTHLY;BYMONTHDAY=31", date(2027, 1, 1), date(2027, 5, 31)
    ) == [date(2027, 1, 31), date(2027, 3, 31), date(2027, 5, 31)]
    # the last day of each month
    assert due_dates(
        start, None, "FREQ=MONTHLY;BYMONTHDAY=-1", date(2027, 2, 1), date(2027, 4, 30)
    ) == [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)]
    # every other Monday from Monday 11 Jan 2027
    assert due_dates(
        date(2027, 1, 11),
        None,
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
        date(2027, 1, 1),
        date(2027, 2, 8),
    ) == [date(2027, 1, 11), date(2027, 1, 25), date(2027, 2, 8)]


def test_the_planned_end_is_the_end_of_the_due_date_utc() -> None:
    assert due_moment(date(2027, 2, 28)).isoformat() == "2027-03-01T00:00:00+00:00"
