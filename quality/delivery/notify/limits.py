"""When a channel may send: a token bucket per channel and quiet hours.

Both hold messages rather than drop them. The bucket is the dispatcher's gate (a message
waits until a token is there: robots refuse bursts, WeCom and DingTalk allow 20 messages a
minute and mute a robot for 10 minutes past that); quiet hours set a non-critical message's
first attempt to the end of the quiet period.

>>> from datetime import UTC, datetime
>>> quiet = QuietHours.parse({"start": "22:00", "end": "07:00", "timezone": "Asia/Shanghai"})
>>> quiet.release_at(datetime(2027, 1, 1, 15, 30, tzinfo=UTC)).isoformat()  # 23:30 in Shanghai
'2027-01-01T23:00:00+00:00'
>>> quiet.release_at(datetime(2027, 1, 1, 3, 0, tzinfo=UTC)) is None  # 11:00 in Shanghai
True
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo


def parse_clock(value: str) -> time:
    """'HH:MM' in 24-hour form."""
    hours, _, minutes = value.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and len(hours) <= 2):
        raise ValueError(f"{value!r} is not HH:MM")
    return time(int(hours), int(minutes))


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily period, in a time zone, during which non-critical messages wait. A period
    whose end is earlier than its start runs past midnight (22:00-07:00)."""

    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> QuietHours | None:
        if not raw:
            return None
        return cls(
            parse_clock(str(raw["start"])),
            parse_clock(str(raw["end"])),
            ZoneInfo(str(raw.get("timezone") or "Asia/Shanghai")),
        )

    def release_at(self, now: datetime) -> datetime | None:
        """The end of the quiet period `now` falls in (as an aware datetime in `now`'s zone),
        or None when `now` is not quiet."""
        local = now.astimezone(self.zone)
        today = local.date()
        for day in (today - timedelta(days=1), today):
            begins = datetime.combine(day, self.start, self.zone)
            ends_day = day if self.end > self.start else day + timedelta(days=1)
            ends = datetime.combine(ends_day, self.end, self.zone)
            if begins <= local < ends:
                return ends.astimezone(now.tzinfo)
        return None


class TokenBucket:
    """`rate_per_minute` sends a minute on average, `burst` at once; thread-safe.

    >>> from datetime import UTC, datetime
    >>> bucket, t0 = TokenBucket(6, 2), datetime(2027, 1, 1, tzinfo=UTC)
    >>> [bucket.take(t0) for _ in range(3)]  # two at once, then 10 s for the next token
    [0.0, 0.0, 10.0]
    >>> bucket.take(t0 + timedelta(seconds=10))
    0.0
    """

    def __init__(self, rate_per_minute: float, burst: int) -> None:
        if rate_per_minute <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.rate_per_s = rate_per_minute / 60.0
        self.burst = burst
        self._tokens = float(burst)
        self._at: datetime | None = None
        self._lock = threading.Lock()

    def take(self, now: datetime) -> float:
        """Take a token and answer 0, or take none and answer the seconds until one is there."""
        with self._lock:
            if self._at is not None and now > self._at:
                elapsed = (now - self._at).total_seconds()
                self._tokens = min(self.burst, self._tokens + elapsed * self.rate_per_s)
            if self._at is None or now > self._at:
                self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate_per_s
