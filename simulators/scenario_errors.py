"""`ScenarioError`, and how a schema violation becomes a message an author can act on.

Each problem reads `file: path: problem (line N)`, where the path walks the document
(`devices[2].params.on_hour`) and the problem says the fix: the names allowed for an
unknown key (with the closest one), the range for a number, an example for a missing key.

>>> dotted(("faults", 0, "params", "rate_g_per_h"))
'faults[0].params.rate_g_per_h'
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from contract.topics import Kind

Path = tuple[str | int, ...]
LineOf = Callable[[Path], int | None]


class ScenarioError(ValueError):
    """The scenario file is wrong; the message names the file, the entry and the fix."""


def show(value: Any) -> str:
    """The value as a message quotes it, cut short if huge."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def choices(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


def did_you_mean(value: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def dotted(path: Sequence[str | int]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else str(step)
    return text


def located(source: str, path: Path, problem: str, line_of: LineOf | None = None) -> str:
    """One problem: `source: path: problem (line N)`."""
    where = dotted(path)
    text = f"{source}: {where}: {problem}" if where else f"{source}: {problem}"
    line = line_of(path) if line_of else None
    return f"{text} (line {line})" if line else text


# -- walking the schema along an error's location ---------------------------------------------


class _Spot:
    """What an error location points at: the document path (union tags left out), the
    model holding the last key, that key's field, and the tag of the entry (its kind or
    fault type)."""

    def __init__(self) -> None:
        self.path: list[str | int] = []
        self.owner: type[BaseModel] | None = None
        self.field: FieldInfo | None = None
        self.tag: str | None = None


def _strip(annotation: Any) -> Any:
    """X | None and Annotated[X, ...] -> X."""
    while True:
        origin = get_origin(annotation)
        if origin is Union or origin is types.UnionType:
            members = [m for m in get_args(annotation) if m is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        elif hasattr(annotation, "__metadata__"):
            annotation = get_args(annotation)[0]
        else:
            return annotation


def _member(union: Any, tag: str) -> type[BaseModel] | None:
    """The model of a discriminated union whose Literal field holds `tag`."""
    if get_origin(union) not in (Union, types.UnionType):
        return None
    for member in get_args(union):
        if not (isinstance(member, type) and issubclass(member, BaseModel)):
            continue
        for field in member.model_fields.values():
            if get_origin(field.annotation) is Literal and tag in get_args(field.annotation):
                return member
    return None


def _fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _spot(root: type[BaseModel], loc: Sequence[str | int]) -> _Spot:
    spot = _Spot()
    current: Any = root
    for step in loc:
        current = _strip(current)
        if isinstance(step, int) and get_origin(current) is list:
            spot.path.append(step)
            current = get_args(current)[0]
            continue
        member = _member(current, step) if isinstance(step, str) else None
        if member is not None:
            spot.tag, current = str(step), member
            continue
        spot.path.append(step)
        model = current if isinstance(current, type) and issubclass(current, BaseModel) else None
        spot.owner, spot.field = model, None
        if model is None or not isinstance(step, str) or step not in _fields(model):
            break
        spot.field = _fields(model)[step]
        current = spot.field.annotation
    return spot


# -- wording -----------------------------------------------------------------------------------

ExamplesOf = Callable[[Path], str]


def _bounds(field: FieldInfo | None) -> str:
    """The allowed range of a number field, as a sentence fragment: '0 to 1', 'at least 0'."""
    low: tuple[str, Any] | None = None
    high: tuple[str, Any] | None = None
    for limit in field.metadata if field else ():
        if isinstance(limit, annotated_types.Ge):
            low = ("at least", limit.ge)
        elif isinstance(limit, annotated_types.Gt):
            low = ("more than", limit.gt)
        elif isinstance(limit, annotated_types.Le):
            high = ("at most", limit.le)
        elif isinstance(limit, annotated_types.Lt):
            high = ("less than", limit.lt)
    if low and high and low[0] == "at least" and high[0] == "at most":
        return f"{low[1]:g} to {high[1]:g}"
    return " and ".join(f"{word} {number:g}" for word, number in filter(None, (low, high)))


def _like(field: FieldInfo | None) -> str:
    default = field.default if field else None
    if isinstance(default, bool) or not isinstance(default, int | float):
        return ""
    return f" like {default:g}" if isinstance(default, float) else f" like {default}"


def problem_of(
    error: ErrorDetails,
    root: type[BaseModel],
    example: ExamplesOf,
    fault_hint: Callable[[int, Any], str],
) -> tuple[Path, str]:
    """The document path and the wording of one pydantic error."""
    kind, value = error["type"], error.get("input")
    spot = _spot(root, error["loc"])
    path = tuple(spot.path)
    parent = path[:-1]
    ctx = error.get("ctx") or {}
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        if not path:
            return (), "a scenario must be a YAML mapping with 'devices'"
        return path, f"must be a mapping like {example(path)}; got {show(value)}"
    if kind == "list_type":
        entry = example((*path, 0))
        return (), f"'{dotted(path)}' must be a list of entries like - {entry}; got {show(value)}"
    if kind == "missing":
        return parent, f"missing '{path[-1]}'; write it like {example(parent)}"
    if kind == "union_tag_not_found":
        key = ctx.get("discriminator", "").strip("'")
        return path, f"missing '{key}'; write it like {example(path)}"
    if kind == "union_tag_invalid":
        key = ctx.get("discriminator", "").strip("'")
        tag = value.get(key) if isinstance(value, dict) else ctx.get("tag")
        if path and path[0] == "faults" and isinstance(path[-1], int):
            return path, fault_hint(path[-1], tag)
        return path, f"kind {show(tag)} is not one of {', '.join(Kind)}"
    if kind in ("extra_forbidden", "invalid_key"):
        key = path[-1]
        names = list(_fields(spot.owner)) if spot.owner else []
        if parent and parent[-1] == "params" and spot.tag:
            subject = a(spot.tag) if path[0] == "devices" else f"{a(spot.tag)} fault"
            fix = f"choose from {choices(names)}" if names else "remove 'params'"
            return (
                parent,
                f"{subject} takes no parameter {show(key)}{did_you_mean(str(key), names)}; {fix}",
            )
        return (
            parent,
            f"unknown key {show(key)}{did_you_mean(str(key), names)}; use {', '.join(names)}",
        )
    if path in (("speed",), ("rate_hz",)):
        unit = spot.field.description if spot.field else ""
        return (), f"{path[0]} must be a positive number of {unit}; got {show(value)}"
    if kind == "string_type":
        return path, f"{show(value)} is not text; write it as a quoted string"
    if kind in ("float_type", "finite_number"):
        return path, f"{show(value)} is not a number{_like(spot.field)}"
    if kind == "int_type":
        return path, f"{show(value)} is not a whole number{_like(spot.field)}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return path, f"{show(value)} is out of range; use {_bounds(spot.field)}"
    if kind == "literal_error":
        allowed = get_args(_strip(spot.field.annotation)) if spot.field else ()
        return path, f"{show(value)} is not allowed; choose from {', '.join(map(str, allowed))}"
    if kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
        name = str(path[-1]) if path else ""
        if name and message.startswith(f"{name} "):
            return parent, message  # names its key: placed at the entry
        return path, message
    return path, error["msg"]


def _fixed(line_of: LineOf | None, at: Path) -> LineOf | None:
    """`line_of`, asked about `at` whatever path the message shows."""
    if line_of is None:
        return None
    return lambda _path: line_of(at)


def from_validation_error(
    exc: ValidationError,
    root: type[BaseModel],
    source: str,
    example: ExamplesOf,
    fault_hint: Callable[[int, Any], str],
    line_of: LineOf | None = None,
) -> ScenarioError:
    """One ScenarioError listing every problem, one per line, in document order."""
    lines = []
    for error in exc.errors(include_url=False):
        path, problem = problem_of(error, root, example, fault_hint)
        at = tuple(_spot(root, error["loc"]).path)  # the line of the offending key itself
        lines.append(located(source, path, problem, _fixed(line_of, at)))
    return ScenarioError("\n".join(dict.fromkeys(lines)))
