"""The ledger file's columns: the English names written on export, and the Chinese header
names accepted on import (as a quality department's own spreadsheet names them).

>>> field_for_header("设备编号"), field_for_header(" Device_ID "), field_for_header("备注")
('device_id', 'device_id', None)
"""

from __future__ import annotations

from typing import Final

from quality.ledger.messages import Text

# Export order; import accepts any order. Contractor contacts ride along so that one sheet
# is the whole ledger: an import creates the contractors it names.
COLUMNS: Final[tuple[str, ...]] = (
    "site",
    "building",
    "floor",
    "location",
    "kind",
    "device_id",
    "name",
    "model",
    "manufacturer",
    "serial",
    "install_date",
    "contractor",
    "contractor_contact",
    "contractor_phone",
    "contractor_email",
    "reporting_interval_s",
    "criticality",
    "status",
)
REQUIRED_COLUMNS: Final = ("site", "building", "kind", "device_id", "name")

# Each column's label for people: the first Chinese name is the one documented and shown.
LABELS: Final[dict[str, Text]] = {
    "site": Text("site", "项目"),
    "building": Text("building", "楼栋"),
    "floor": Text("floor", "楼层"),
    "location": Text("location", "安装位置"),
    "kind": Text("kind", "设备类型"),
    "device_id": Text("device id", "设备编号"),
    "name": Text("name", "设备名称"),
    "model": Text("model", "规格型号"),
    "manufacturer": Text("manufacturer", "生产厂家"),
    "serial": Text("serial number", "出厂编号"),
    "install_date": Text("install date", "安装日期"),
    "contractor": Text("maintenance contractor", "维保单位"),
    "contractor_contact": Text("contractor contact", "维保联系人"),
    "contractor_phone": Text("contractor phone", "维保电话"),
    "contractor_email": Text("contractor email", "维保邮箱"),
    "reporting_interval_s": Text("reporting interval (s)", "上报间隔(秒)"),
    "criticality": Text("criticality", "设备等级"),
    "status": Text("status", "设备状态"),
}

# Other Chinese names the same columns go by in ledgers in use.
_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "site": ("项目名称", "小区", "物业项目"),
    "building": ("楼栋号", "楼宇"),
    "location": ("位置", "安装地点"),
    "kind": ("设备类别", "类型"),
    "name": ("名称",),
    "model": ("型号",),
    "manufacturer": ("厂家", "品牌"),
    "serial": ("序列号",),
    "install_date": ("安装时间", "启用日期"),
    "contractor": ("维保公司", "供应商"),
    "contractor_phone": ("联系电话",),
    "reporting_interval_s": ("上报间隔", "上报周期(秒)"),
    "criticality": ("设备分级", "重要等级"),
    "status": ("状态", "使用状态"),
}


def _key(header: str) -> str:
    return header.strip().lower().replace("（", "(").replace("）", ")").replace(" ", "")


HEADER_FIELDS: Final[dict[str, str]] = {
    **{_key(column): column for column in COLUMNS},
    **{_key(label.zh): column for column, label in LABELS.items()},
    **{_key(alias): column for column, aliases in _ALIASES.items() for alias in aliases},
}


def field_for_header(header: str) -> str | None:
    """The ledger column a header names (English or Chinese), or None for a column the
    ledger does not keep."""
    return HEADER_FIELDS.get(_key(header))


def label(field: str) -> Text:
    return LABELS.get(field, Text(field, field))
