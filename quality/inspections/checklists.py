"""An inspection route (巡检路线): ordered stops, each a device or a place, each with a
checklist of items a person answers: pass/fail, a number with its allowed range, or text.

>>> item = ChecklistItem(question="Pressure", kind="number", minimum=0.2, maximum=0.6)
>>> item.judge("0.7"), item.judge("0.4")
(False, True)
"""

from __future__ import annotations

import math
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from contract.finding import Severity
from quality.inspections.categories import CATEGORIES
from quality.ledger.validation import IDENTIFIER_PATTERN

Kind = Literal["pass_fail", "number", "text"]


class ChecklistItem(BaseModel):
    question: str = Field(min_length=1, max_length=200)
    kind: Kind
    minimum: float | None = Field(None, description="number: the lowest value that passes")
    maximum: float | None = Field(None, description="number: the highest value that passes")
    unit: str | None = Field(None, max_length=16)
    category: str = Field("other", description="fault type of the ticket a failure opens")
    severity: Severity = Field(Severity.MINOR, description="severity of that ticket")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.category not in CATEGORIES:
            raise ValueError(
                f"category {self.category!r} is not a known fault type; use one listed by "
                "GET /api/inspections/categories, or 'other' "
                f"(类别 {self.category!r} 未知；请使用列出的类别或 'other')"
            )
        bounds = [b for b in (self.minimum, self.maximum) if b is not None]
        if self.kind != "number" and bounds:
            raise ValueError(
                "minimum and maximum belong to number items only (仅数值项目可设上下限)"
            )
        if self.kind == "number" and not bounds:
            raise ValueError(
                "a number item needs minimum, maximum or both: the range that passes "
                "(数值项目需设置合格范围的下限、上限或两者)"
            )
        if any(not math.isfinite(b) for b in bounds):
            raise ValueError("minimum and maximum must be finite numbers (上下限须为有限数字)")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("minimum is above maximum: swap them (下限大于上限，请对调)")
        return self

    def judge(self, value: str) -> bool:
        """Whether an answer passes; ValueError when it is not an answer of this kind."""
        text = value.strip()
        if self.kind == "pass_fail":
            if text.lower() not in {"pass", "fail"}:
                raise ValueError(text)
            return text.lower() == "pass"
        if self.kind == "number":
            number = float(text)
            if not math.isfinite(number):
                raise ValueError(text)
            low_ok = self.minimum is None or number >= self.minimum
            return low_ok and (self.maximum is None or number <= self.maximum)
        if not text:
            raise ValueError(text)
        return True


class Stop(BaseModel):
    """A device of the site (device_id), or a place (building, floor, place)."""

    device_id: str | None = Field(None, min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)
    building: str | None = Field(None, min_length=1, max_length=64)
    kind: str | None = Field(None, max_length=16, description="device kind, if a device")
    floor: str | None = Field(None, min_length=1, max_length=16)
    place: str | None = Field(None, min_length=1, max_length=40)
    items: list[ChecklistItem] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _where(self) -> Self:
        if self.device_id is None and (self.place is None or self.building is None):
            raise ValueError(
                "a stop is a device (device_id) or a place (building and place) "
                "(点位须为设备 device_id 或地点 building 与 place)"
            )
        return self


class RouteCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    site: str = Field(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)
    stops: list[Stop] = Field(min_length=1, max_length=200)


def stop_label(site: str, stop: Stop) -> str:
    """Where a stop is, as a person reads it: `hq/pump-1` or `hq/B1/F2/lobby`."""
    if stop.device_id is not None:
        return f"{site}/{stop.device_id}"
    return "/".join(part for part in (site, stop.building, stop.floor, stop.place) if part)
