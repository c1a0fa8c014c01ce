"""The ticket lifecycle: found -> dispatched -> acknowledged -> rectified -> verified ->
closed, and reopened (发现-派单-接单-整改-复核-销项).

Only the transitions below are legal; each names the least role that may make
it. `system` transitions are made by the service itself (telemetry verification,
a returning fault). A dispatched ticket may be rectified without an explicit
acknowledgement (clients older than the acknowledge step do so): the store then
records the acknowledgement implicitly at that moment.

>>> allowed_next("open")
['closed', 'dispatched']
>>> allowed_next("dispatched")
['acknowledged', 'closed', 'rectified']
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class State(StrEnum):
    OPEN = "open"
    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    RECTIFIED = "rectified"
    VERIFIED = "verified"
    CLOSED = "closed"
    REOPENED = "reopened"


class Role(StrEnum):
    VIEWER = "viewer"
    INSPECTOR = "inspector"  # 巡检员: opens tickets by hand and runs rounds, never dispatches
    ENGINEER = "engineer"
    QUALITY = "quality"
    ADMIN = "admin"
    SYSTEM = "system"


ROLE_RANK: Final = {
    Role.VIEWER: 0,
    Role.INSPECTOR: 1,
    Role.ENGINEER: 2,
    Role.QUALITY: 3,
    Role.ADMIN: 4,
    Role.SYSTEM: 5,
}

# Active tickets absorb new findings of the same fault instead of a second ticket.
ACTIVE_STATES: Final = (
    State.OPEN,
    State.DISPATCHED,
    State.ACKNOWLEDGED,
    State.RECTIFIED,
    State.VERIFIED,
    State.REOPENED,
)

# Closing from these states is a dismissal (a false alarm), not a close-out after re-check.
DISMISSABLE_STATES: Final = frozenset(
    {State.OPEN, State.DISPATCHED, State.ACKNOWLEDGED, State.REOPENED}
)

# (from, to) -> least role allowed to make the move.
TRANSITIONS: Final[dict[tuple[State, State], Role]] = {
    (State.OPEN, State.DISPATCHED): Role.ENGINEER,
    (State.REOPENED, State.DISPATCHED): Role.ENGINEER,
    (State.DISPATCHED, State.ACKNOWLEDGED): Role.ENGINEER,
    (State.ACKNOWLEDGED, State.RECTIFIED): Role.ENGINEER,
    # Rectified without an explicit acknowledgement: acknowledged implicitly then.
    (State.DISPATCHED, State.RECTIFIED): Role.ENGINEER,
    # Reassigned after acknowledgement: dispatched again, to be acknowledged by the new team.
    (State.ACKNOWLEDGED, State.DISPATCHED): Role.ENGINEER,
    (State.RECTIFIED, State.VERIFIED): Role.QUALITY,  # by hand with a note, or by telemetry
    (State.VERIFIED, State.CLOSED): Role.QUALITY,
    # Dismissal of a false ticket, with a note.
    (State.OPEN, State.CLOSED): Role.QUALITY,
    (State.DISPATCHED, State.CLOSED): Role.QUALITY,
    (State.ACKNOWLEDGED, State.CLOSED): Role.QUALITY,
    (State.REOPENED, State.CLOSED): Role.QUALITY,
    # The fault came back, or the re-check failed.
    (State.RECTIFIED, State.REOPENED): Role.QUALITY,
    (State.VERIFIED, State.REOPENED): Role.QUALITY,
    (State.CLOSED, State.REOPENED): Role.QUALITY,
}

NOTE_REQUIRED: Final = frozenset(
    {
        (State.RECTIFIED, State.VERIFIED),
        (State.OPEN, State.CLOSED),
        (State.DISPATCHED, State.CLOSED),
        (State.ACKNOWLEDGED, State.CLOSED),
        (State.REOPENED, State.CLOSED),
    }
)


def _zh(state: str) -> str:
    """A state as the quality department says it, with its code: 已接单 (acknowledged)."""
    from quality.tickets.labels import STATE_LABELS  # the labels name this module's states

    label = STATE_LABELS.get(state)
    return f"{label['zh-CN']} ({state})" if label else state


class IllegalTransition(ValueError):
    """The move is not in the lifecycle; `allowed` lists the legal next states."""

    def __init__(self, current: str, target: str) -> None:
        self.current = current
        self.target = target
        self.allowed = allowed_next(current)
        super().__init__(
            f"cannot go from {current} to {target}; "
            f"allowed next: {', '.join(self.allowed) or 'none'} / "
            f"工单不能从{_zh(current)}转到{_zh(target)}；"
            f"可转到：{'、'.join(_zh(s) for s in self.allowed) or '无'}"
        )


class NoteRequired(ValueError):
    """Manual verification and dismissal must say why."""


class NotPermitted(PermissionError):
    def __init__(self, role: str, needed: Role, target: str) -> None:
        self.needed = needed
        super().__init__(
            f"role {role} may not move a ticket to {target}; needs {needed.value} / "
            f"{role} 角色不能把工单转到{_zh(target)}，需要 {needed.value} 角色"
        )


def allowed_next(current: str) -> list[str]:
    return sorted(to.value for (frm, to) in TRANSITIONS if frm.value == current)


def check_transition(current: str, target: str, role: Role, note: str | None) -> None:
    try:
        key = (State(current), State(target))
    except ValueError:
        raise IllegalTransition(current, target) from None
    needed = TRANSITIONS.get(key)
    if needed is None:
        raise IllegalTransition(current, target)
    if ROLE_RANK[role] < ROLE_RANK[needed]:
        raise NotPermitted(role.value, needed, target)
    if key in NOTE_REQUIRED and role is not Role.SYSTEM and not (note and note.strip()):
        raise NoteRequired(
            f"moving a ticket from {current} to {target} needs a note saying why / "
            f"工单从{_zh(current)}转到{_zh(target)}须填写备注说明原因"
        )


def is_dismissal(current: str, target: str) -> bool:
    """Closing a ticket that was never re-checked: it is dismissed as a false alarm."""
    return target == State.CLOSED and current in {s.value for s in DISMISSABLE_STATES}


def role_allows(role: Role, needed: Role) -> bool:
    return ROLE_RANK[role] >= ROLE_RANK[needed]
