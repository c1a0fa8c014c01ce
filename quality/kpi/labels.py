"""The KPIs' names as a quality department says them, in Chinese and English.

The API answers codes (`integrity_pct`) with these labels beside them, and says in both
languages why a figure it cannot compute is null.

>>> KPI_LABELS["integrity_pct"]["zh-CN"]
'设备完好率'
>>> sorted(UNAVAILABLE) == sorted(PENDING_KPIS)
True
"""

from __future__ import annotations

from typing import Final

Label = dict[str, str]


def _label(zh: str, en: str) -> Label:
    return {"zh-CN": zh, "en": en}


KPI_LABELS: Final[dict[str, Label]] = {
    "integrity_pct": _label("设备完好率", "equipment integrity rate"),
    "timeliness_pct": _label("维修及时率", "repair timeliness"),
    "completion_pct": _label("整改完成率", "rectification completion rate"),
    "response_time_s": _label("响应时间", "response time"),
    "first_time_fix_pct": _label("一次性修复成功率", "first-time fix rate"),
    "mttr_s": _label("平均修复时间 MTTR", "mean time to repair (MTTR)"),
    "mtbf_s": _label("平均故障间隔 MTBF", "mean time between failures (MTBF)"),
    "repeat_pct": _label("重复故障率", "repeat-fault rate"),
    "maintenance_execution_pct": _label("保养计划执行率", "maintenance-plan execution rate"),
    "inspection_completion_pct": _label("巡检完成率", "inspection-round completion"),
}

UNIT_LABELS: Final[dict[str, Label]] = {
    "pct": _label("%", "%"),
    "s": _label("秒", "seconds"),
}

SCOPE_LABELS: Final[dict[str, Label]] = {
    "site": _label("项目", "site"),
    "building": _label("楼栋", "building"),
    "kind": _label("设备类型", "kind"),
    "building_kind": _label("楼栋 × 设备类型", "building × kind"),
}

DENOMINATOR_LABELS: Final[dict[str, Label]] = {
    "ledger": _label("设备台账中的在用设备", "in-service equipment of the ledger"),
    "reporting devices": _label(
        "已上报数据的设备（设备台账中尚无已确认的设备）",
        "devices that have reported (the ledger holds no confirmed device yet)",
    ),
}

PENDING_KPIS: Final = ("maintenance_execution_pct", "inspection_completion_pct")

UNAVAILABLE: Final[dict[str, Label]] = {
    "maintenance_execution_pct": _label(
        "保养工单只记录项目和设备类型、不记录楼栋：楼栋及楼栋 × 设备类型分组（或按楼栋筛选时）"
        "无保养计划执行率；统计期内无到期工单时亦为空",
        "maintenance work orders record their site and kind but not their building: the "
        "building and building × kind groups (and any building filter) have no execution "
        "rate; it is also null where no work order fell due in the period",
    ),
    "inspection_completion_pct": _label(
        "巡检轮次按巡检路线记录项目、不记录楼栋和设备类型：仅项目分组有巡检完成率"
        "（按楼栋或设备类型筛选时无）；统计期内无完成的巡检轮次时亦为空",
        "inspection rounds follow a route, which names a site but not a building or kind: "
        "only the site groups have a completion rate (none under a building or kind filter); "
        "it is also null where no round finished in the period",
    ),
}


SCORECARD_LABELS: Final[dict[str, Label]] = {
    "contractor": _label("维保单位", "contractor"),
    "tickets": _label("派单工单数", "tickets dispatched"),
    "response_time_s": _label("响应时间", "response time"),
    "on_time_rectification_pct": _label("按时整改率", "on-time rectification"),
    "first_time_fix_pct": _label("一次性修复成功率", "first-time fix rate"),
    "repeats": _label("重复故障", "repeat faults"),
    "yellow_cards": _label("黄牌", "yellow cards"),
    "red_cards": _label("红牌", "red cards"),
}
