"""Settings errors in the user's words: the `FACMON_*` variable, what is wrong, how to fix it.

pydantic's own message names the Python field (`api_port`), links its docs and, for
checks across fields, echoes every other setting, passwords included. This module
says only what concerns the variable at fault, and never quotes a secret.

>>> from pydantic import ValidationError
>>> from facmon.settings import Settings
>>> try:
...     Settings(_env_file=None, api_port=70000)
... except ValidationError as exc:
...     print(explain(exc))
FACMON_API_PORT=70000 is out of range: it must be at most 65535. Set FACMON_API_PORT to \
a port from 1 to 65535, or unset it for the default (8000). All settings: README, \
"Configuration".
"""

from __future__ import annotations

from typing import Any

from annotated_types import Ge, Le
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

_SECRET_WORDS = ("password", "secret", "url", "key", "token", "cert")
_KIND_OF_VALUE = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "str": "text",
    "Path": "a folder path",
}
_PROBLEM = {
    "int_parsing": "is not a whole number",
    "int_from_float": "is not a whole number",
    "float_parsing": "is not a number",
    "bool_parsing": "is not true or false",
    "greater_than_equal": "is out of range: it must be at least {ge}",
    "greater_than": "is out of range: it must be above {gt}",
    "less_than_equal": "is out of range: it must be at most {le}",
    "less_than": "is out of range: it must be below {lt}",
    "literal_error": "is not one of {expected}",
}
SEE_ALSO = 'All settings: README, "Configuration".'


def variable(field: str) -> str:
    return f"FACMON_{field.upper()}"


def _is_secret(field: str) -> bool:
    return any(word in field for word in _SECRET_WORDS)


def _bounds(info: FieldInfo) -> tuple[Any, Any]:
    low = next((m.ge for m in info.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, Le)), None)
    return low, high


def _wanted(field: str, info: FieldInfo) -> str:
    """What the variable should hold, e.g. 'a port from 1 to 65535'."""
    annotation = info.annotation
    name = getattr(annotation, "__name__", "")
    kind = _KIND_OF_VALUE.get(name, "a valid value")
    low, high = _bounds(info)
    if field.endswith("_port") and high == 65535:
        return f"a port from {low} to {high}" + (" (0: any free port)" if low == 0 else "")
    if low is not None and high is not None:
        return f"{kind} from {low} to {high}"
    if low is not None:
        return f"{kind} of at least {low}"
    return kind


def _field_message(error: ErrorDetails, fields: dict[str, FieldInfo]) -> str:
    field = str(error["loc"][0])
    info = fields.get(field)
    name = variable(field)
    shown = name if _is_secret(field) else f"{name}={error['input']}"
    template = _PROBLEM.get(error["type"])
    if template is not None:
        problem = template.format(**error.get("ctx", {}))
    else:
        problem = "is not valid: " + error["msg"].removeprefix("Value error, ")
    if info is None:
        return f"{shown} {problem}."  # pragma: no cover - every env error names a field
    default = info.default
    fallback = "none" if default is None else str(default)
    return (
        f"{shown} {problem}. Set {name} to {_wanted(field, info)}, or unset it for the "
        f"default ({fallback})."
    )


def explain(exc: ValidationError) -> str:
    """One line per error; errors that span several settings keep only their own text."""
    from facmon.settings import Settings

    fields = Settings.model_fields
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        if error["loc"]:
            lines.append(_field_message(error, fields))
        else:
            text = error["msg"].removeprefix("Value error, ")
            lines.append(text if text.endswith(".") else f"{text}.")
    lines.append(SEE_ALSO)
    return " ".join(lines) if len(lines) == 2 else "\n".join(lines)
