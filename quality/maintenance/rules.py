"""When a plan falls due: every N days from its start, or an RFC 5545 recurrence rule
(python-dateutil's `rrule`) with the start as DTSTART. Due dates are calendar dates.

>>> from datetime import date
>>> due_dates(date(2027, 1, 1), 10, None, date(2027, 1, 5), date(2027, 1, 31))
[datetime.date(2027, 1, 11), datetime.date(2027, 1, 21), datetime.date(2027, 1, 31)]
>>> monthly = "FREQ=MONTHLY;BYMONTHDAY=15"
>>> due_dates(date(2027, 1, 1), None, monthly, date(2027, 1, 1), date(2027, 3, 1))
[datetime.date(2027, 1, 15), datetime.date(2027, 2, 15)]
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from dateutil.rrule import rrule, rrulestr

MAX_DUES = 1000  # due dates computed per call at most (a daily plan over three years)


def parse_rrule(rule: str, start: date) -> rrule:
    """The rule with `start` as its DTSTART; ValueError when dateutil cannot read it."""
    parsed = rrulestr(rule, dtstart=datetime.combine(start, time()), forceset=False)
    if not isinstance(parsed, rrule):
        raise ValueError("one RRULE only")
    return parsed


def due_dates(
    start: date, every_days: int | None, rule: str | None, first: date, last: date
) -> list[date]:
    """The plan's due dates from `first` to `last`, both included, never before `start`."""
    first = max(first, start)
    if last < first:
        return []
    if every_days:
        skip = -((start - first).days // every_days)  # ceil((first - start) / every_days)
        day = start + timedelta(days=skip * every_days)
        dues: list[date] = []
        while day <= last and len(dues) < MAX_DUES:
            dues.append(day)
            day += timedelta(days=every_days)
        return dues
    if rule is None:
        raise ValueError("a plan needs every_days or rrule")
    occurrences = parse_rrule(rule, start).between(
        datetime.combine(first, time()), datetime.combine(last, time()), inc=True
    )
    return sorted({moment.date() for moment in occurrences[:MAX_DUES]})


def due_moment(day: date) -> datetime:
    """The planned end of a due date: the end of that day, UTC."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
