"""Checking a channel or a rule before it is stored: every problem names its field and the
fix, in Chinese and English (catalog `notifications.error.*`), and nothing is stored
until the whole body is right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contract.topics import Kind
from quality.delivery.notify.events import EVENTS
from quality.delivery.notify.limits import parse_clock
from quality.i18n import LANGUAGES, text
from quality.tickets.policy import SEVERITIES, STAGES

CHANNEL_TYPES: Final = ("wecom", "dingtalk", "feishu", "email", "webhook")
MSGTYPES: Final = {
    "wecom": ("markdown", "text"),
    "dingtalk": ("markdown", "text"),
    "feishu": ("interactive", "post", "text"),
}
# Within each platform's documented limit (WeCom and DingTalk 20 a minute, Feishu 100 a
# minute and 5 a second), with a small burst so a storm of tickets is spread out.
DEFAULT_RATES: Final = {
    "wecom": (20.0, 5),
    "dingtalk": (20.0, 5),
    "feishu": (100.0, 5),
    "email": (60.0, 10),
    "webhook": (600.0, 50),
}
MAX_RATE: Final = 6000.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
_MOBILE = re.compile(r"^\+?[0-9]{5,20}$")
_URL_EXAMPLES: Final = {
    "wecom": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY",
    "dingtalk": "https://oapi.dingtalk.com/robot/send?access_token=TOKEN",
    "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN",
    "webhook": "https://example.com/facmon",
}
_URL_PARAM: Final = {"wecom": "key", "dingtalk": "access_token"}
CHANNEL_FIELDS: Final = (
    "name", "type", "url", "secret", "msgtype", "rate_per_minute", "burst", "quiet_hours",
    "enabled",
)  # fmt: skip
RULE_FIELDS: Final = (
    "name", "enabled", "match", "channels", "recipients", "language", "quiet_hours",
)  # fmt: skip
MATCH_VALUES: Final[dict[str, tuple[str, ...] | None]] = {
    "sites": None,
    "buildings": None,
    "kinds": tuple(kind.value for kind in Kind),
    "severities": SEVERITIES,
    "events": EVENTS,
    "contractors": None,
    "stages": STAGES,
}


class NotifyError(ValueError):
    """A refused request: HTTP status, the field at fault and the fix in both languages."""

    def __init__(self, status: int, field: str | None, key: str, **params: object) -> None:
        self.status = status
        self.field = field
        # A parameter may itself be a word in each language (`texts(...)`).
        self.messages = {
            lang: text(
                f"notifications.error.{key}",
                lang,
                field=field or "",
                **{k: v[lang] if isinstance(v, dict) else v for k, v in params.items()},
            )
            for lang in LANGUAGES
        }
        super().__init__(self.messages["en"])


def _invalid(field: str, key: str, **params: object) -> NotifyError:
    return NotifyError(422, field, key, **params)


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    name: str
    type: str
    config: dict[str, Any]
    rate_per_minute: float
    burst: int
    quiet_hours: dict[str, Any] | None
    enabled: bool


@dataclass(frozen=True, slots=True)
class RuleSpec:
    name: str
    enabled: bool
    match: dict[str, list[str]]
    channels: list[str]
    recipients: list[dict[str, str]]
    language: str
    quiet_hours: dict[str, Any] | None


def _check_text(value: Any, field: str) -> None:
    """Every string is text a database can store (JSON allows lone UTF-16 surrogates)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _invalid(field, "text") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, field)
            _check_text(item, f"{field}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _check_text(item, f"{field}[{n}]")


def _object(body: Any, fields: tuple[str, ...], example: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise NotifyError(422, None, "not_object", example=example)
    for key in body:
        if key not in fields:
            raise _invalid(_shown(key), "unknown_field", allowed=", ".join(fields))
    for key, value in body.items():
        _check_text(value, key)
    return body


def _shown(value: str) -> str:
    """A field name as echoed back: printable, and cut short."""
    return value.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")[:64]


def _name(body: dict[str, Any], field: str = "name") -> str:
    value = body.get(field)
    if value is None:
        raise _invalid(field, "name")
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise _invalid(field, "name")
    return value


def _bool(body: dict[str, Any], field: str, default: bool = True) -> bool:
    value = body.get(field, default)
    if not isinstance(value, bool):
        raise _invalid(field, "bool")
    return value


def quiet_hours_of(value: Any, field: str = "quiet_hours") -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"start", "end", "timezone"}:
        raise _invalid(field, "quiet")
    if not all(isinstance(v, str) for v in value.values()):
        raise _invalid(field, "quiet")
    try:
        start = parse_clock(str(value["start"]))
        end = parse_clock(str(value["end"]))
        zone = str(value.get("timezone") or "Asia/Shanghai")
        ZoneInfo(zone)
    except (KeyError, ValueError, ZoneInfoNotFoundError):
        raise _invalid(field, "quiet") from None
    if start == end:
        raise _invalid(field, "quiet")
    return {"start": f"{start:%H:%M}", "end": f"{end:%H:%M}", "timezone": zone}


def _url(value: Any, channel_type: str) -> str:
    example = _URL_EXAMPLES[channel_type]
    if not isinstance(value, str) or not value:
        raise _invalid("url", "url", example=example)
    try:
        parts = urlsplit(value)
        parse_qs(parts.query)
    except ValueError:
        raise _invalid("url", "url", example=example) from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _invalid("url", "url", example=example)
    param = _URL_PARAM.get(channel_type)
    if param and not parse_qs(parts.query).get(param):
        raise _invalid("url", "url_key", param=param)
    return value


def validate_channel(body: Any, current: dict[str, Any] | None = None) -> ChannelSpec:
    """A new channel, or (with `current`, the stored config) a replacement of one in which
    an omitted `secret` keeps the stored one."""
    example = '{"name": "qa-wecom", "type": "wecom", "url": "..."}'
    data = _object(body, CHANNEL_FIELDS, example)
    name = _name(data)
    channel_type = data.get("type")
    if channel_type not in CHANNEL_TYPES:
        raise _invalid("type", "channel_type", allowed=", ".join(CHANNEL_TYPES))
    config: dict[str, Any] = {}
    if channel_type != "email":
        config["url"] = _url(data.get("url"), channel_type)
    elif data.get("url") is not None:
        raise _invalid(
            "url", "unknown_field", allowed=", ".join(f for f in CHANNEL_FIELDS if f != "url")
        )
    if channel_type in ("dingtalk", "feishu", "webhook"):
        secret = data.get("secret")
        if secret is None and current is not None:
            secret = current.get("secret")
        if secret is None:
            raise _invalid("secret", "secret_required", type=channel_type)
        if not isinstance(secret, str) or len(secret) < 16:
            raise _invalid("secret", "secret")
        config["secret"] = secret
    elif data.get("secret") is not None:
        raise _invalid("secret", "unknown_field", allowed="name, type, url, msgtype, ...")
    if channel_type in MSGTYPES:
        msgtype = data.get("msgtype", MSGTYPES[channel_type][0])
        if msgtype not in MSGTYPES[channel_type]:
            raise _invalid("msgtype", "msgtype", allowed=", ".join(MSGTYPES[channel_type]))
        config["msgtype"] = msgtype
    rate, burst = DEFAULT_RATES[channel_type]
    rate_value = data.get("rate_per_minute", rate)
    if (
        isinstance(rate_value, bool)
        or not isinstance(rate_value, int | float)
        or not 0.1 <= rate_value <= MAX_RATE
    ):
        raise _invalid("rate_per_minute", "rate", max=f"{MAX_RATE:g}")
    burst_value = data.get("burst", burst)
    if (
        isinstance(burst_value, bool)
        or not isinstance(burst_value, int)
        or not 1 <= burst_value <= 100
    ):
        raise _invalid("burst", "burst")
    return ChannelSpec(
        name=name,
        type=channel_type,
        config=config,
        rate_per_minute=float(rate_value),
        burst=burst_value,
        quiet_hours=quiet_hours_of(data.get("quiet_hours")),
        enabled=_bool(data, "enabled"),
    )


def _strings(value: Any, field: str, allowed: tuple[str, ...] | None) -> list[str]:
    example = f'["{allowed[0]}"]' if allowed else '["hq"]'
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(item, str) and 0 < len(item) <= 128 for item in value
    ):
        raise _invalid(field, "list", example=example)
    if allowed is not None:
        for item in value:
            if item not in allowed:
                raise _invalid(field, "value", value=item, allowed=", ".join(allowed))
    return list(dict.fromkeys(value))


def _recipient(value: Any, field: str) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) - {"name", "language", "email", "mobile"}:
        raise _invalid(field, "recipient")
    person: dict[str, str] = {}
    name = value.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise _invalid(f"{field}.name", "recipient")
    person["name"] = name.strip()
    language = value.get("language", "zh-CN")
    if language not in LANGUAGES:
        raise _invalid(f"{field}.language", "language")
    person["language"] = language
    email = value.get("email")
    if email is not None:
        if not isinstance(email, str) or not _EMAIL.fullmatch(email) or len(email) > 254:
            raise _invalid(f"{field}.email", "email")
        person["email"] = email
    mobile = value.get("mobile")
    if mobile is not None:
        if not isinstance(mobile, str) or not _MOBILE.fullmatch(mobile):
            raise _invalid(f"{field}.mobile", "mobile")
        person["mobile"] = mobile
    return person


def validate_rule(body: Any, channel_types: dict[str, str]) -> RuleSpec:
    """A rule, checked against the channels that exist (name -> type)."""
    example = (
        '{"name": "escalations", "match": {"events": ["escalated"]}, "channels": ["qa-wecom"]}'
    )
    data = _object(body, RULE_FIELDS, example)
    name = _name(data)
    raw_match = data.get("match", {})
    if not isinstance(raw_match, dict):
        raise _invalid("match", "unknown_field", allowed=", ".join(MATCH_VALUES))
    match: dict[str, list[str]] = {}
    for key, value in raw_match.items():
        if key not in MATCH_VALUES:
            raise _invalid(f"match.{_shown(key)}", "unknown_field", allowed=", ".join(MATCH_VALUES))
        values = _strings(value, f"match.{key}", MATCH_VALUES[key])
        if values:
            match[key] = values
    known = ", ".join(sorted(channel_types)) or "-"
    channels = data.get("channels")
    if (
        not isinstance(channels, list)
        or not channels
        or not all(isinstance(item, str) for item in channels)
    ):
        raise _invalid("channels", "channels", known=known)
    for channel in channels:
        if channel not in channel_types:
            raise _invalid("channels", "unknown_channel", name=channel, known=known)
    recipients_raw = data.get("recipients", [])
    if not isinstance(recipients_raw, list):
        raise _invalid("recipients", "recipient")
    recipients = [_recipient(item, f"recipients[{n}]") for n, item in enumerate(recipients_raw)]
    for channel in channels:
        if channel_types[channel] == "email" and not any("email" in p for p in recipients):
            raise _invalid("recipients", "email_recipients", channel=channel)
    language = data.get("language", "zh-CN")
    if language not in LANGUAGES:
        raise _invalid("language", "language")
    return RuleSpec(
        name=name,
        enabled=_bool(data, "enabled"),
        match=match,
        channels=list(dict.fromkeys(channels)),
        recipients=recipients,
        language=language,
        quiet_hours=quiet_hours_of(data.get("quiet_hours")),
    )
