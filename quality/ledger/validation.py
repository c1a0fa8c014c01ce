"""What a ledger record may hold, field by field, with errors that name the field and the
fix in English and Chinese.

The same models check an API body and a row of an imported file, so a device refused by
one is refused by the other with the same words. Cells of a file arrive as text: the
parsers accept text for numbers and dates, and Chinese words for kinds, statuses and
criticalities (电梯, 在用, A类 …), and store the product's codes.

>>> EquipmentCreate(site="hq", building="t1", kind="电梯", device_id="lift-1", name="1#").kind
'elevator'
>>> try:
...     EquipmentCreate(site="hq", building="t1", kind="pump", device_id="a/b", name="x")
... except ValidationError as exc:
...     print(problems_of(exc)[0].field)
device_id
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from contract.topics import ContractError, validate_identifier
from quality.ledger.columns import label
from quality.ledger.messages import Text
from quality.ledger.models import KINDS, Criticality, Status

# The contract's identifier alphabet, anchored (site, building and device ids name MQTT
# topics, so the ledger holds none that a device could not publish under).
IDENTIFIER_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"
MAX_INTERVAL_S: Final = 30 * 86_400
EARLIEST_INSTALL: Final = date(1900, 1, 1)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[0-9][0-9 ()\-]{2,30}(?:(?:ext\.?|转|x)[0-9]{1,6})?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

KIND_ALIASES: Final[dict[str, str]] = {
    "电梯": "elevator",
    "直梯": "elevator",
    "扶梯": "elevator",
    "照明": "lighting",
    "灯光": "lighting",
    "水泵": "pump",
    "泵": "pump",
    "门禁": "access",
}
STATUS_ALIASES: Final[dict[str, str]] = {
    "在用": Status.IN_SERVICE,
    "正常": Status.IN_SERVICE,
    "运行": Status.IN_SERVICE,
    "维修中": Status.UNDER_MAINTENANCE,
    "保养中": Status.UNDER_MAINTENANCE,
    "维修保养中": Status.UNDER_MAINTENANCE,
    "已报废": Status.DECOMMISSIONED,
    "报废": Status.DECOMMISSIONED,
    "停用": Status.DECOMMISSIONED,
    "待启用": Status.PENDING,
    "未启用": Status.PENDING,
}
CRITICALITY_ALIASES: Final[dict[str, str]] = {
    "关键": Criticality.A,
    "重要": Criticality.B,
    "一般": Criticality.C,
    **{f"{c}类": c for c in Criticality},
    **{f"{c.lower()}类": c for c in Criticality},
}


def _fail(en: str, zh: str) -> PydanticCustomError:
    """An error whose `msg` is the English text and whose context carries both."""
    return PydanticCustomError("ledger_value", "{en}", {"en": en, "zh": zh})


def _as_text(value: object) -> str | None:
    """Text of a cell or a JSON value; None for an empty one. Numbers from a spreadsheet
    (a device id typed as 101) become their plain digits."""
    if type(value) is str:  # the common case first: every cell of a CSV
        return value.strip() or None
    if value is None:
        return None
    if isinstance(value, bool):
        raise _fail("must be text, not true/false", "应为文字，不能是 true/false")
    if isinstance(value, int):
        value = str(value)
    elif isinstance(value, float) and value.is_integer():
        value = str(int(value))
    if not isinstance(value, str):
        raise _fail("must be text", "应为文字")
    value = value.strip()
    return value or None


def _text(max_len: int) -> Callable[[object], str | None]:
    def parse(value: object) -> str | None:
        text = _as_text(value)
        if text is None:
            return None
        if _CONTROL.search(text):
            raise _fail(
                "contains a control character (line break, tab, NUL): remove it",
                "含有控制字符（换行、制表符、NUL）：请删除",
            )
        if len(text) > max_len:
            raise _fail(
                f"is {len(text)} characters long: shorten it to at most {max_len}",
                f"长度为 {len(text)} 个字符：请缩短至不超过 {max_len} 个",
            )
        return text

    return parse


def _identifier(value: object) -> str | None:
    text = _as_text(value)
    if text is None:
        return None
    try:
        return validate_identifier(text, "identifier")
    except ContractError:
        raise _fail(
            f"{text[:80]!a} is not a valid identifier: use 1-64 characters from "
            "A-Z a-z 0-9 _ . : - starting with a letter or digit (it names the device's "
            "MQTT topic)",
            f"{text[:80]!a} 不是有效的编号：请用 1-64 个字符 A-Z a-z 0-9 _ . : -，"
            "以字母或数字开头（它也是设备的 MQTT 主题名）",
        ) from None


def _choice(
    aliases: dict[str, str], codes: tuple[str, ...], en_what: str, zh_what: str
) -> Callable[[object], str | None]:
    def parse(value: object) -> str | None:
        text = _as_text(value)
        if text is None:
            return None
        if text in codes:
            return text
        folded = text.lower().replace(" ", "_").replace("-", "_")
        for candidate in (folded, text.upper(), text):
            if candidate in codes:
                return candidate
        if text in aliases:
            return str(aliases[text])
        if folded in aliases:
            return str(aliases[folded])
        listed = ", ".join(codes)
        raise _fail(
            f"{text[:40]!a} is not a {en_what}: use one of {listed}",
            f"{text[:40]!a} 不是有效的{zh_what}：请用 {listed} 之一",
        )

    return parse


_kind = _choice(KIND_ALIASES, KINDS, "kind of equipment", "设备类型")
_status = _choice(STATUS_ALIASES, tuple(Status), "status", "设备状态")
_criticality = _choice(CRITICALITY_ALIASES, tuple(Criticality), "criticality", "设备等级")


def _install_date(value: object) -> date | None:
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        text = _as_text(value)
        if text is None:
            return None
        try:
            value = date.fromisoformat(text.replace("/", "-").replace(".", "-"))
        except ValueError:
            value = None
        if value is None:
            raise _fail(
                f"{text[:40]!a} is not a date: write it as YYYY-MM-DD, e.g. 2024-03-15",
                f"{text[:40]!a} 不是日期：请写成 YYYY-MM-DD，例如 2024-03-15",
            )
    if value < EARLIEST_INSTALL or value > datetime.now(UTC).date():
        raise _fail(
            f"{value.isoformat()} is not a possible install date: give a date between "
            f"{EARLIEST_INSTALL.isoformat()} and today",
            f"{value.isoformat()} 不是可能的安装日期：请填写 "
            f"{EARLIEST_INSTALL.isoformat()} 至今天之间的日期",
        )
    return value


def _interval(value: object) -> int | None:
    if isinstance(value, bool):
        raise _fail("must be a number of seconds", "应为秒数")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        text = _as_text(value)
        if text is None:
            return None
        try:
            value = int(float(text)) if re.fullmatch(r"[0-9]+(\.0*)?", text) else None
        except ValueError:
            value = None
        if value is None:
            raise _fail(
                f"{text[:40]!a} is not a whole number of seconds: write e.g. 60",
                f"{text[:40]!a} 不是整数秒：请填写例如 60",
            )
    if not 1 <= value <= MAX_INTERVAL_S:
        raise _fail(
            f"{value} s is out of range: give 1 to {MAX_INTERVAL_S} seconds (30 days)",
            f"{value} 秒超出范围：请填写 1 至 {MAX_INTERVAL_S} 秒（30 天）",
        )
    return value


def _email(value: object) -> str | None:
    text = _text(254)(value)
    if text is not None and not _EMAIL.fullmatch(text):
        raise _fail(
            f"{text[:60]!a} is not an email address: write it as name@example.com",
            f"{text[:60]!a} 不是邮箱地址：请写成 name@example.com",
        )
    return text


def _phone(value: object) -> str | None:
    text = _text(32)(value)
    if text is not None and not _PHONE.fullmatch(text):
        raise _fail(
            f"{text[:40]!a} is not a phone number: use digits, spaces, + - ( ), e.g. 021-5555 0100",
            f"{text[:40]!a} 不是电话号码：请用数字、空格和 + - ( )，例如 021-5555 0100",
        )
    return text


def _kinds(value: object) -> list[str] | None:
    if value is None:
        return None
    items: list[object]
    if isinstance(value, str):
        items = [p for p in re.split(r"[,，;；、\s]+", value) if p]
    elif isinstance(value, list):
        items = value
    else:
        raise _fail(
            'must be a list of kinds, e.g. ["elevator", "pump"]',
            '应为设备类型列表，例如 ["elevator", "pump"]',
        )
    kinds = {_kind(item) for item in items}
    return sorted(k for k in kinds if k is not None)


def _required(parse: Callable[[object], Any]) -> Callable[[object], Any]:
    """`parse`, refusing an empty value: the record needs this field."""

    def check(value: object) -> Any:
        parsed = parse(value)
        if parsed is None:
            raise _fail("is required: give a value", "为必填项：请填写")
        return parsed

    return check


def _settable_status(value: object) -> str | None:
    status = _required(_status)(value)
    if status == Status.DECOMMISSIONED:
        raise _fail(
            "cannot be set to decommissioned here: POST …/{site}/{device_id}/decommission "
            "records when and why",
            "不能在此改为已报废：请用 POST …/{site}/{device_id}/decommission 记录报废时间和原因",
        )
    return str(status)


_KIND_ENUM: Final = {"enum": list(KINDS)}

# Required values (in a PATCH: values that may change but not be cleared).
Identifier = Annotated[
    str, BeforeValidator(_required(_identifier)), Field(min_length=1, max_length=64)
]
KindCode = Annotated[str, BeforeValidator(_required(_kind)), Field(json_schema_extra=_KIND_ENUM)]
Name = Annotated[str, BeforeValidator(_required(_text(128))), Field(min_length=1, max_length=128)]
KeptIdentifier = Annotated[
    Annotated[str, Field(min_length=1, max_length=64)] | None,
    BeforeValidator(_required(_identifier)),
]
KeptName = Annotated[
    Annotated[str, Field(min_length=1, max_length=128)] | None,
    BeforeValidator(_required(_text(128))),
]
KeptKind = Annotated[
    Annotated[str, Field(json_schema_extra=_KIND_ENUM)] | None,
    BeforeValidator(_required(_kind)),
]
# Optional values: the limit is in the spec too.
Floor = Annotated[Annotated[str, Field(max_length=16)] | None, BeforeValidator(_text(16))]
Location = Annotated[Annotated[str, Field(max_length=200)] | None, BeforeValidator(_text(200))]
Short = Annotated[Annotated[str, Field(max_length=128)] | None, BeforeValidator(_text(128))]
Person = Annotated[Annotated[str, Field(max_length=64)] | None, BeforeValidator(_text(64))]
Phone = Annotated[Annotated[str, Field(max_length=32)] | None, BeforeValidator(_phone)]
Email = Annotated[Annotated[str, Field(max_length=254)] | None, BeforeValidator(_email)]
Reason = Annotated[Annotated[str, Field(max_length=500)] | None, BeforeValidator(_text(500))]
InstallDate = Annotated[date | None, BeforeValidator(_install_date)]
Interval = Annotated[
    Annotated[int, Field(ge=1, le=MAX_INTERVAL_S)] | None, BeforeValidator(_interval)
]
StatusCode = Annotated[Status, BeforeValidator(_status)]
CriticalityCode = Annotated[Criticality, BeforeValidator(_criticality)]
Kinds = Annotated[list[str], BeforeValidator(_kinds)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EquipmentCreate(_Strict):
    """A device entered into the ledger; (site, device_id) is its identity."""

    site: Identifier
    building: Identifier
    floor: Floor = None
    location: Location = None
    kind: KindCode
    device_id: Identifier
    name: Name
    model: Short = None
    manufacturer: Short = None
    serial: Short = None
    install_date: InstallDate = None
    contractor: Annotated[Short, Field(description="a contractor's name, as registered")] = None
    reporting_interval_s: Interval = None
    criticality: Annotated[
        CriticalityCode | None, Field(description="A critical, B important, C ordinary (default)")
    ] = None
    status: Annotated[StatusCode | None, Field(description="in_service unless given")] = None


class EquipmentRow(EquipmentCreate):
    """A row of a ledger file: a device and, optionally, its contractor's contacts."""

    contractor_contact: Person = None
    contractor_phone: Phone = None
    contractor_email: Email = None


class EquipmentUpdate(_Strict):
    """Fields to change; those left out keep their value, `null` clears an optional one.
    The identity (site, device_id) never changes, and decommissioning has its own call."""

    building: KeptIdentifier = None
    floor: Floor = None
    location: Location = None
    kind: KeptKind = None
    name: KeptName = None
    model: Short = None
    manufacturer: Short = None
    serial: Short = None
    install_date: InstallDate = None
    contractor: Short = None
    reporting_interval_s: Interval = None
    criticality: Annotated[Criticality | None, BeforeValidator(_required(_criticality))] = None
    status: Annotated[
        Status | None,
        BeforeValidator(_settable_status),
        Field(description="in_service, under_maintenance or pending; see …/decommission"),
    ] = None


def _utc(moment: datetime | None) -> datetime | None:
    """The time in UTC, as every stored time is (SQLite keeps no offset); a time without
    one is taken as UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Decommission(_Strict):
    at: Annotated[
        datetime | None,
        AfterValidator(_utc),
        Field(description="when it left service (RFC 3339; UTC if no offset); now if not given"),
    ] = None
    reason: Reason = None


class ContractorCreate(_Strict):
    name: Name
    contact_person: Person = None
    phone: Phone = None
    email: Email = None
    kinds: Kinds = []  # pydantic copies the default: no list is shared
    active: bool = True


class ContractorUpdate(_Strict):
    name: KeptName = None
    contact_person: Person = None
    phone: Phone = None
    email: Email = None
    kinds: Annotated[list[str] | None, BeforeValidator(_required(_kinds))] = None
    active: Annotated[bool | None, BeforeValidator(_required(lambda v: v))] = None


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request or a row: which field, and what to do, in both languages."""

    field: str
    message: Text  # names the field: "device id (device_id) … "
    detail: Text  # the problem alone, for a report whose column already names the field

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "en": self.message.en, "zh": self.message.zh}


_GENERIC: Final[dict[str, Text]] = {
    "missing": Text("is required: give a value", "为必填项：请填写"),
    "bool_type": Text("must be true or false", "应为 true 或 false"),
    "bool_parsing": Text("must be true or false", "应为 true 或 false"),
    "int_type": Text("must be a whole number", "应为整数"),
    "int_parsing": Text("must be a whole number", "应为整数"),
    "string_type": Text("must be text", "应为文字"),
    "list_type": Text("must be a list", "应为列表"),
    "datetime_type": Text(
        "must be a time in RFC 3339, e.g. 2027-01-01T08:00:00Z",
        "应为 RFC 3339 时间，例如 2027-01-01T08:00:00Z",
    ),
    "datetime_parsing": Text(
        "must be a time in RFC 3339, e.g. 2027-01-01T08:00:00Z",
        "应为 RFC 3339 时间，例如 2027-01-01T08:00:00Z",
    ),
    "datetime_from_date_parsing": Text(
        "must be a time in RFC 3339, e.g. 2027-01-01T08:00:00Z",
        "应为 RFC 3339 时间，例如 2027-01-01T08:00:00Z",
    ),
    "model_type": Text("must be a JSON object", "应为 JSON 对象"),
    "model_attributes_type": Text("must be a JSON object", "应为 JSON 对象"),
    "dict_type": Text("must be a JSON object", "应为 JSON 对象"),
    "json_invalid": Text("is not valid JSON: fix the syntax", "不是有效的 JSON：请修正格式"),
    "json_type": Text("is not valid JSON: fix the syntax", "不是有效的 JSON：请修正格式"),
}
_IDENTITY: Final = frozenset({"site", "device_id"})
# Names in requests that are not ledger columns.
_OTHER_LABELS: Final[dict[str, Text]] = {
    "body": Text("request body", "请求体"),
    "file": Text("file", "文件"),
    "limit": Text("limit", "每页条数"),
    "offset": Text("offset", "跳过条数"),
    "q": Text("search text", "搜索文字"),
    "active": Text("active", "是否启用"),
    "kinds": Text("kinds maintained", "维保设备类型"),
    "contact_person": Text("contact person", "联系人"),
    "phone": Text("phone", "电话"),
    "email": Text("email", "邮箱"),
    "at": Text("time", "时间"),
    "reason": Text("reason", "原因"),
    "format": Text("format", "格式"),
    "skip_errors": Text("skip errors", "跳过错误行"),
}


def describe(error: Any, *, skip_loc: int = 0) -> Problem:
    """A pydantic or FastAPI error as a `Problem`: the field it names and the fix."""
    kind = error.get("type", "")
    loc = [str(part) for part in error.get("loc", ())][skip_loc:]
    if kind.startswith("json_"):
        loc = []  # the position in the text, not a field
    field = ".".join(loc) or "body"
    ctx = error.get("ctx") or {}
    words = _OTHER_LABELS.get(field) or label(loc[-1] if loc else "body")
    if kind == "ledger_value":
        message = Text(str(ctx["en"]), str(ctx["zh"]))
    elif kind == "extra_forbidden":
        if loc and loc[-1] in _IDENTITY:
            message = Text(
                "is the device's identity and cannot change: register the device anew "
                "and decommission the old record instead",
                "是设备的身份标识，不能修改：请重新登记设备，并将旧记录报废",
            )
        else:
            message = Text(
                "is not a field the ledger keeps: remove it", "不是设备台账的字段：请删除"
            )
    elif kind in {"string_too_long", "too_long"}:
        limit = ctx.get("max_length", "")
        message = Text(
            f"is too long: shorten it to at most {limit}", f"过长：请缩短至不超过 {limit}"
        )
    elif kind in {"string_too_short", "too_short"}:
        message = Text("is empty: give a value", "为空：请填写")
    elif kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        message = Text(
            f"is out of range: {error.get('msg', '')}", f"超出范围：{error.get('msg', '')}"
        )
    elif kind in {"enum", "literal_error"}:
        allowed = ctx.get("expected", "")
        message = Text(f"must be one of {allowed}", f"应为以下之一：{allowed}")
    elif kind in _GENERIC:
        message = _GENERIC[kind]
    else:
        msg = str(error.get("msg", "is not valid"))
        message = Text(f"{msg}: correct it", f"不正确（{msg}）：请修改")
    named_en = words.en if words.en == field else f"{words.en} ({field})"
    return Problem(
        field, Text(f"{named_en} {message.en}", f"{words.zh}（{field}）{message.zh}"), message
    )


def problems_of(error: ValidationError, *, skip_loc: int = 0) -> list[Problem]:
    return [describe(e, skip_loc=skip_loc) for e in error.errors()]
