"""What the reports are judged against and when they are made, from `FACMON_REPORT_*`
environment variables (pydantic-settings), with these defaults (JSON for objects):

| setting | default | meaning |
|---|---|---|
| `FACMON_REPORT_TARGETS` | `DEFAULT_TARGETS` | targets over the defaults |
| `FACMON_REPORT_KIND_TARGETS` | elevators' integrity 100 | per kind, over the targets |
| `FACMON_REPORT_TIME_ZONE` | `Asia/Shanghai` | the zone of periods and schedules |
| `FACMON_REPORT_SITE_TIME_ZONES` | `{}` | JSON object: a site's own zone |
| `FACMON_REPORT_WEEKLY_AT` | `MON 08:00` | when a week's report is made (the week before) |
| `FACMON_REPORT_MONTHLY_AT` | `1 08:00` | day of month and time a month's report is made |
| `FACMON_REPORT_LANGUAGES` | `["zh-CN"]` | languages the schedule makes |
| `FACMON_REPORT_SCHEDULE` | `true` | whether the service makes reports on schedule |
| `FACMON_REPORT_PDCA_WINDOW_DAYS` | `14` | days of KPI compared before and after a PDCA action |
| `FACMON_REPORT_TOP` | `10` | rows in the top-equipment and top-fault lists |

>>> ReportSettings().target("integrity_pct", "elevator"), ReportSettings().target("integrity_pct")
(100.0, 98.0)
"""

from __future__ import annotations

import re
from datetime import time
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Direction = Literal["min", "max"]
"""A target is a floor (`min`: at least) or a ceiling (`max`: at most)."""

DEFAULT_TARGETS: Final[dict[str, float]] = {
    "integrity_pct": 98.0,  # 设备完好率 ≥ 98 % (the industry's usual target)
    "timeliness_pct": 95.0,  # 维修及时率
    "completion_pct": 95.0,  # 整改完成率
    "response_time_s": 1800.0,  # 响应时间 ≤ 30 min
    "first_time_fix_pct": 90.0,  # 一次性修复成功率
    "mttr_s": 72 * 3600.0,  # MTTR ≤ 72 h, the usual rectification deadline
    "repeat_pct": 5.0,  # 重复故障率 ≤ 5 %
    "maintenance_execution_pct": 95.0,  # 保养计划执行率
}
DIRECTIONS: Final[dict[str, Direction]] = {
    "integrity_pct": "min",
    "timeliness_pct": "min",
    "completion_pct": "min",
    "response_time_s": "max",
    "first_time_fix_pct": "min",
    "mttr_s": "max",
    "mtbf_s": "min",
    "repeat_pct": "max",
    "maintenance_execution_pct": "min",
}
"""Every KPI a report shows, and which way is better."""
KPIS: Final = tuple(DIRECTIONS)

_WEEKDAYS: Final = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def _time_of(text: str) -> time:
    hours, _, minutes = text.partition(":")
    return time(int(hours), int(minutes or 0))


class ReportSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACMON_REPORT_", extra="ignore")

    targets: dict[str, float] = Field(default_factory=dict)
    kind_targets: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {"elevator": {"integrity_pct": 100.0}}
    )
    time_zone: str = "Asia/Shanghai"
    site_time_zones: dict[str, str] = Field(default_factory=dict)
    weekly_at: str = "MON 08:00"
    monthly_at: str = "1 08:00"
    languages: list[str] = Field(default_factory=lambda: ["zh-CN"])
    schedule: bool = True
    schedule_interval_s: float = 60.0
    pdca_window_days: int = Field(14, ge=1, le=366)
    top: int = Field(10, ge=1, le=100)

    @field_validator("targets", "kind_targets")
    @classmethod
    def _known_kpis(cls, value: dict[str, object]) -> dict[str, object]:
        for name, inner in value.items():
            names = inner if isinstance(inner, dict) else {name: inner}
            unknown = sorted(set(names) - set(KPIS))
            if unknown:
                raise ValueError(f"unknown KPI {unknown}: use one of {', '.join(KPIS)}")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}, e.g. Asia/Shanghai") from None
        return value

    @field_validator("weekly_at")
    @classmethod
    def _weekly(cls, value: str) -> str:
        if not re.fullmatch(r"(MON|TUE|WED|THU|FRI|SAT|SUN) \d{1,2}(:\d{2})?", value.upper()):
            raise ValueError("weekly_at must read like 'MON 08:00'")
        _time_of(value.split()[1])
        return value.upper()

    @field_validator("monthly_at")
    @classmethod
    def _monthly(cls, value: str) -> str:
        match = re.fullmatch(r"(\d{1,2}) (\d{1,2}(:\d{2})?)", value)
        if not match or not 1 <= int(match.group(1)) <= 28:
            raise ValueError("monthly_at must read like '1 08:00' (a day from 1 to 28)")
        _time_of(match.group(2))
        return value

    def target(self, kpi: str, kind: str | None = None) -> float | None:
        """The target of a KPI, a kind's own where it has one; None: no target."""
        if kind is not None and kpi in self.kind_targets.get(kind, {}):
            return self.kind_targets[kind][kpi]
        return {**DEFAULT_TARGETS, **self.targets}.get(kpi)

    def zone(self, site: str | None) -> ZoneInfo:
        """A site's time zone; the portfolio's is `time_zone`."""
        return ZoneInfo(self.site_time_zones.get(site or "", self.time_zone))

    @property
    def weekly_weekday(self) -> int:
        return _WEEKDAYS.index(self.weekly_at.split()[0])

    @property
    def weekly_time(self) -> time:
        return _time_of(self.weekly_at.split()[1])

    @property
    def monthly_day(self) -> int:
        return int(self.monthly_at.split()[0])

    @property
    def monthly_time(self) -> time:
        return _time_of(self.monthly_at.split()[1])


def meets(kpi: str, value: float | None, target: float | None) -> bool | None:
    """Whether a value meets its target; None when either is missing.

    >>> meets("integrity_pct", 97.5, 98.0), meets("response_time_s", 600.0, 1800.0)
    (False, True)
    """
    if value is None or target is None:
        return None
    return value >= target if DIRECTIONS.get(kpi, "min") == "min" else value <= target
