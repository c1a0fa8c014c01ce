"""New parameters for a running detector, without forgetting what it has learnt.

Detectors copy values out of their `Config` in `__init__` (limits, window lengths,
deciders), next to the state they learn (baselines, windows, streaks). Which attribute
is which is not written down, so it is found out: two fresh twins of the detector are
built, one with the old and one with the new configuration. Only the configuration
differs between them, so whatever differs derives from it and is taken from the new
twin; everything else is learnt state and stays. Inside objects (a decider, a rolling
window) the same rule applies field by field; a window whose length changed keeps its
latest values. A detector for which this rule does not fit overrides
`Detector.reconfigure`.

>>> from collections import deque
>>> class Box:
...     def __init__(self, size: int, limit: float) -> None:
...         self.window, self.limit, self.baseline = deque(maxlen=size), limit, None
>>> live = Box(3, 1.0)
>>> live.window.extend([1, 2, 3]); live.baseline = 2.0
>>> adopt(live, Box(3, 1.0), Box(2, 1.5))
>>> list(live.window), live.limit, live.baseline
([2, 3], 1.5, 2.0)
"""

from __future__ import annotations

import copy
import types
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Any

SKIP = frozenset({"config", "device", "_made_with"})
MAX_DEPTH = 4
_MISSING = object()
_PLAIN = (
    int,
    float,
    complex,
    str,
    bytes,
    bool,
    type(None),
    Enum,
    tuple,
    frozenset,
    list,
    dict,
    set,
)


def _fields(obj: Any) -> dict[str, Any]:
    found = dict(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name not in found and hasattr(obj, name):
                found[name] = getattr(obj, name)
    return found


def _has_fields(obj: Any) -> bool:
    return not isinstance(obj, (*_PLAIN, deque, type)) and not callable(obj) and bool(_fields(obj))


def same(a: Any, b: Any, depth: int = 0) -> bool:
    """Do two twins' values agree (so the value does not depend on the configuration)?"""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, types.MethodType):
        return a.__func__ is b.__func__  # a bound method of each twin
    if isinstance(a, deque):
        return a.maxlen == b.maxlen and same(list(a), list(b), depth)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y, depth) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], depth) for k in a)
    if _has_fields(a):
        if depth >= MAX_DEPTH:
            return False
        fa, fb = _fields(a), _fields(b)
        return fa.keys() == fb.keys() and all(same(fa[k], fb[k], depth + 1) for k in fa)
    try:
        result = a == b
    except Exception:  # e.g. numpy arrays of different shapes
        return False
    if isinstance(result, bool):
        return result
    try:  # an array: equal shapes and every element equal
        return bool(getattr(a, "shape", None) == getattr(b, "shape", None) and result.all())
    except Exception:
        return False


def differing(before: Any, after: Any, depth: int = 0) -> list[str]:
    """The attributes whose values differ between the twins: the config-derived ones."""
    return [
        name
        for name, new in _fields(after).items()
        if not (depth == 0 and name in SKIP)
        and not same(getattr(before, name, _MISSING), new, depth)
    ]


def adopt(
    target: Any, before: Any, after: Any, names: list[str] | None = None, depth: int = 0
) -> None:
    """Give `target` the values that differ between the twins `before` and `after`
    (`names`, when `differing` already found them)."""
    if names is None and depth == 0:
        names = differing(before, after)
    elif names is None:  # inside cached twins: what differs is cached too
        key = (id(before), id(after))
        found = _NESTED.get(key)
        if found is None:  # holding the parts keeps their ids from being reused
            if len(_NESTED) >= 16 * MAX_PLANS:
                _NESTED.clear()
            found = _NESTED[key] = (before, after, differing(before, after, depth))
        names = found[2]
    for name in names:
        current = getattr(target, name, _MISSING)
        old = getattr(before, name, _MISSING)
        setattr(target, name, _merged(current, old, getattr(after, name), depth))


# The twins and what differs between them, by (class, kind, old config, new config):
# a reload retunes thousands of devices' detectors from a handful of config pairs.
Plan = tuple[Any, Any, list[str]]
_PLANS: dict[tuple[type, str, Any, Any], Plan] = {}
MAX_PLANS = 256
# What differs inside the twins (a decider, a window), by the parts' ids; each entry holds
# its parts, so an id is never reused while it is cached. Cleared with the plans.
_NESTED: dict[tuple[int, int], tuple[Any, Any, list[str]]] = {}


def plan(cls: type, kind: str, old: Any, new: Any, build: Callable[[Any], Any]) -> Plan:
    """Twins built with `build(old)` and `build(new)`, and their differing attributes.
    Cached per class, device kind and config pair: a config-derived value is taken to
    depend on the config and the kind (a generic detector's metrics), not on which device
    of the kind the detector watches."""
    try:
        key = (cls, kind, old, new)
        found = _PLANS.get(key)
    except TypeError:  # a config that cannot be hashed: no cache
        key, found = None, None
    if found is None:
        before, after = build(old), build(new)
        found = (before, after, differing(before, after))
        if key is not None:
            if len(_PLANS) >= MAX_PLANS:
                _PLANS.clear()
                _NESTED.clear()
            _PLANS[key] = found
    return found


def _merged(current: Any, old: Any, new: Any, depth: int) -> Any:
    if (
        isinstance(new, deque)
        and isinstance(current, deque)
        and isinstance(old, deque)
        and same(list(old), list(new), depth)
    ):  # only the length changed: keep the latest values
        return deque(current, maxlen=new.maxlen)
    if (
        isinstance(new, dict)
        and isinstance(current, dict)
        and isinstance(old, dict)
        and new.keys() == old.keys() == current.keys()
    ):  # one entry per metric, say: each entry merged on its own
        for key in new:
            if not same(old[key], new[key], depth):
                current[key] = _merged(current[key], old[key], new[key], depth)
        return current
    if (
        depth < MAX_DEPTH
        and type(new) is type(current) is type(old)
        and _has_fields(new)
        and _has_fields(current)
    ):
        adopt(current, old, new, depth=depth + 1)
        return current
    # A value the configuration sets (or state the configuration shapes): the new one.
    return copy.deepcopy(new)
