"""Report periods: an ISO week (`2026-W49`) or a calendar month (`2026-11`) in a time zone,
with the period before it and the buckets its trend is drawn over (days of a week, weeks of
a month).

>>> from zoneinfo import ZoneInfo
>>> week = parse_period("weekly", "2026-W49", ZoneInfo("Asia/Shanghai"))
>>> week.start.isoformat(), week.end.isoformat(), week.previous().label
('2026-11-30T00:00:00+08:00', '2026-12-07T00:00:00+08:00', '2026-W48')
>>> month = parse_period("monthly", "2026-11", ZoneInfo("Asia/Shanghai"))
>>> [b.label for b in month.buckets()]
['11-01', '11-08', '11-15', '11-22', '11-29']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

Kind = Literal["weekly", "monthly"]
KINDS: Final[tuple[Kind, ...]] = ("weekly", "monthly")


class BadPeriod(ValueError):
    """A period label that does not name a week or a month of that kind."""


@dataclass(frozen=True, slots=True)
class Bucket:
    label: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    kind: Kind
    label: str
    first_day: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(0), self.zone)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.next_first_day, time(0), self.zone)

    @property
    def next_first_day(self) -> date:
        if self.kind == "weekly":
            return self.first_day + timedelta(days=7)
        year, month = self.first_day.year, self.first_day.month
        return date(year + month // 12, month % 12 + 1, 1)

    def previous(self) -> ReportPeriod:
        if self.kind == "weekly":
            return week_of(self.first_day - timedelta(days=7), self.zone)
        return month_of(self.first_day - timedelta(days=1), self.zone)

    def following(self) -> ReportPeriod:
        if self.kind == "weekly":
            return week_of(self.next_first_day, self.zone)
        return month_of(self.next_first_day, self.zone)

    def buckets(self) -> list[Bucket]:
        """Days of a week; weeks of a month (7 days from the 1st, the last one shorter)."""
        step = 1 if self.kind == "weekly" else 7
        found = []
        day = self.first_day
        while day < self.next_first_day:
            until = min(day + timedelta(days=step), self.next_first_day)
            found.append(
                Bucket(
                    day.strftime("%m-%d"),
                    datetime.combine(day, time(0), self.zone),
                    datetime.combine(until, time(0), self.zone),
                )
            )
            day = until
        return found


def week_of(day: date, zone: ZoneInfo) -> ReportPeriod:
    year, week, weekday = day.isocalendar()
    return ReportPeriod("weekly", f"{year}-W{week:02d}", day - timedelta(days=weekday - 1), zone)


def month_of(day: date, zone: ZoneInfo) -> ReportPeriod:
    return ReportPeriod("monthly", f"{day.year}-{day.month:02d}", day.replace(day=1), zone)


def parse_period(kind: str, label: str, zone: ZoneInfo) -> ReportPeriod:
    """`2026-W49` for a weekly report, `2026-11` for a monthly one."""
    if kind == "weekly":
        match = re.fullmatch(r"(\d{4})-W(\d{2})", label)
        if match:
            try:
                first = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
            except ValueError:
                first = None
            if first is not None:
                return week_of(first, zone)
        raise BadPeriod(f"{label!r} is not an ISO week such as 2026-W49")
    if kind == "monthly":
        match = re.fullmatch(r"(\d{4})-(\d{2})", label)
        if match and 1 <= int(match.group(2)) <= 12 and int(match.group(1)) >= 1970:
            return month_of(date(int(match.group(1)), int(match.group(2)), 1), zone)
        raise BadPeriod(f"{label!r} is not a month such as 2026-11")
    raise BadPeriod(f"{kind!r} is not weekly or monthly")


def last_complete(kind: str, now: datetime, zone: ZoneInfo) -> ReportPeriod:
    """The latest period of `kind` that has ended by `now`."""
    today = now.astimezone(zone).date()
    current = week_of(today, zone) if kind == "weekly" else month_of(today, zone)
    if kind not in KINDS:
        raise BadPeriod(f"{kind!r} is not weekly or monthly")
    return current.previous()


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
