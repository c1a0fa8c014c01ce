"""The ticket store: findings in, the quality loop's state machine, events out.

Every change happens in one transaction together with its history entry and
its outbox events, so a crash leaves either all of it or none of it.
Concurrency is handled by the database: a unique partial index allows one
active ticket per (device, fault type), and state changes are conditional
updates (`... WHERE state = <expected>`), so two writers never both win.
"""

from __future__ import annotations

import builtins
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract.clock import Clock, SystemClock
from contract.finding import Finding
from quality.i18n.summaries import summary_labels
from quality.tickets import incidents
from quality.tickets.lifecycle import (
    ACTIVE_STATES,
    IllegalTransition,
    Role,
    State,
    allowed_next,
    check_transition,
    is_dismissal,
)
from quality.tickets.listing import Page, TicketQuery, fetch_page
from quality.tickets.models import (
    Ticket,
    TicketComment,
    TicketHistory,
    TicketOccurrence,
    TicketRecheck,
    aware,
)
from quality.tickets.outbox import SINKS, enqueue
from quality.tickets.policy import ESCALATE_TO, SEVERITIES, STAGES, Deadlines, TicketPolicy
from quality.tickets.recheck import (
    GUARDED_TARGETS,
    FaultStillPresent,
    RecheckStatus,
    confirmed_note,
)

_ACTIVE = [s.value for s in ACTIVE_STATES]
_RANK = {severity: rank for rank, severity in enumerate(reversed(SEVERITIES))}
SYSTEM_ACTOR = "facmon"
IMPLICIT_ACKNOWLEDGE_NOTE = "acknowledged implicitly on rectification / 整改时默认接单"


CARD_GROUPS = ("equipment", "contractor", "team")


class TicketNotFound(LookupError):
    pass


class TicketConflict(RuntimeError):
    """Someone else changed the ticket first; reload and try again. `allowed` lists the
    legal next states from the state it is in now."""

    def __init__(self, message: str, allowed: builtins.list[str] | None = None) -> None:
        super().__init__(message)
        self.allowed = allowed or []


def _standing(state: str, assignee: str | None) -> str:
    return f"{state}, " + (f"assigned to {assignee}" if assignee else "unassigned")


@dataclass(frozen=True, slots=True)
class RecordResult:
    ticket_id: int
    opened: bool
    reopened: bool = False
    repeat_count: int = 1


@dataclass(frozen=True, slots=True)
class Breach:
    ticket_id: int
    stage: str
    severity: str


@dataclass(slots=True)
class TicketFilter:
    state: str | None = None
    severity: str | None = None
    site: str | None = None
    building: str | None = None
    kind: str | None = None
    device_id: str | None = None
    fault_type: str | None = None
    overdue: bool | None = None
    states: list[str] = field(default_factory=list)
    contractor: str | None = None


def _json_safe(evidence: dict[str, Any]) -> dict[str, Any]:
    """Evidence goes into a JSON column on every backend: drop what JSON cannot hold."""
    result: dict[str, Any] = json.loads(json.dumps(evidence, default=str, allow_nan=False))
    return result


def _finite(params: Mapping[str, Any]) -> dict[str, Any]:
    """A summary's values as JSON holds them everywhere: a value JSON cannot hold (NaN, an
    infinity) is left out, and the summary falls back to its stored text."""
    return {
        name: value
        for name, value in params.items()
        if not isinstance(value, float) or math.isfinite(value)
    }


def ticket_public(ticket: Ticket) -> dict[str, Any]:
    """The ticket as events and the API show it."""
    return {
        "id": ticket.id,
        "device_id": ticket.device_id,
        "site": ticket.site,
        "building": ticket.building,
        "kind": ticket.kind,
        "fault_type": ticket.fault_type,
        "severity": ticket.severity,
        "state": ticket.state,
        "summary": ticket.summary,
        "summary_labels": summary_labels(ticket.summary_key, ticket.summary_params, ticket.summary),
        "detector": ticket.detector,
        "detector_version": ticket.detector_version,
        "onset_ms": ticket.onset_ms,
        "opened_at": aware(ticket.opened_at),
        "assignee": ticket.assignee,
        "contractor": ticket.contractor,
        "team": ticket.team,
        "dispatch_due_at": aware(ticket.dispatch_due_at),
        "acknowledge_due_at": aware(ticket.acknowledge_due_at),
        "rectify_due_at": aware(ticket.rectify_due_at),
        "recheck_due_at": aware(ticket.recheck_due_at),
        "escalation_level": ticket.escalation_level,
        "repeat_count": ticket.repeat_count,
        "card": ticket.card,
        "false_alarm": ticket.false_alarm,
        "occurrences": ticket.occurrences,
        "detectors": ticket.detectors,
    }


def card_for(repeat_count: int) -> str:
    if repeat_count >= 3:
        return "red"
    if repeat_count == 2:
        return "yellow"
    return "none"


# The states in which each SLA clock runs (it stops when the ticket leaves them).
CLOCK_STATES: dict[str, tuple[str, ...]] = {
    "dispatch": (State.OPEN, State.REOPENED),
    "acknowledge": (State.DISPATCHED,),
    "rectify": (State.OPEN, State.DISPATCHED, State.ACKNOWLEDGED, State.REOPENED),
    "recheck": (State.RECTIFIED,),
}


def _late(stage: str, now: datetime) -> Any:
    """The clause for tickets whose `stage` clock is running and past its deadline."""
    due = getattr(Ticket, f"{stage}_due_at")
    return and_(Ticket.state.in_(CLOCK_STATES[stage]), due.is_not(None), due < now)


def _overdue_clause(now: datetime) -> Any:
    return or_(*(_late(stage, now) for stage in STAGES))


def _clock_start(ticket: Ticket) -> datetime:
    """Dispatch and rectify deadlines count from the opening, or from the latest reopening."""
    start = aware(ticket.reopened_at) or aware(ticket.opened_at)
    assert start is not None
    return start


def _deadlines_from_starts(ticket: Ticket, deadlines: Deadlines) -> dict[str, datetime | None]:
    """Every deadline of `ticket` under `deadlines`, each from the moment its clock started."""
    start = _clock_start(ticket)
    dispatched, rectified = aware(ticket.dispatched_at), aware(ticket.rectified_at)
    return {
        "dispatch": start + deadlines.dispatch,
        "acknowledge": dispatched + deadlines.acknowledge if dispatched else None,
        "rectify": start + deadlines.rectify,
        "recheck": rectified + deadlines.recheck if rectified else None,
    }


class TicketStore:
    def __init__(
        self,
        engine: Engine,
        policy: TicketPolicy | None = None,
        clock: Clock | None = None,
        sinks: tuple[str, ...] = SINKS,
    ) -> None:
        self.engine = engine
        self.policy = policy or TicketPolicy()
        self.clock = clock or SystemClock()
        self.sinks = sinks

    # -- events -------------------------------------------------------------

    def _event(
        self,
        session: Session,
        event_type: str,
        ticket: Ticket,
        now: datetime,
        **extra: Any,
    ) -> None:
        session.flush()
        if self.sinks:
            enqueue(
                session,
                self.sinks,
                event_type,
                ticket.id,
                {"ticket": ticket_public(ticket), **extra},
                now,
            )

    def _history(
        self,
        session: Session,
        ticket_id: int,
        now: datetime,
        actor: str,
        role: Role,
        from_state: str | None,
        to_state: str,
        note: str | None,
    ) -> None:
        session.add(
            TicketHistory(
                ticket_id=ticket_id,
                at=now,
                actor=actor,
                role=role.value,
                from_state=from_state,
                to_state=to_state,
                note=note,
            )
        )

    def _system_note(self, session: Session, ticket: Ticket, now: datetime, note: str) -> None:
        """The service's own entry in a ticket's history, the state unchanged."""
        self._history(
            session, ticket.id, now, SYSTEM_ACTOR, Role.SYSTEM, ticket.state, ticket.state, note
        )

    # -- findings -----------------------------------------------------------

    def record(self, finding: Finding) -> RecordResult:
        """Open a ticket, add to the active one, or reopen a just-closed one."""
        for _attempt in range(10):
            with Session(self.engine) as session:
                result = self._record_in(session, finding)
                if result is not None:
                    try:
                        session.commit()
                        return result
                    except IntegrityError:
                        session.rollback()
        raise TicketConflict("could not record the finding after 10 attempts")

    def _record_in(self, session: Session, finding: Finding) -> RecordResult | None:
        """Record one finding in `session`: None on a conflict (the transaction is then
        rolled back and the caller tries again)."""
        evidence = _json_safe(
            {
                **finding.evidence,
                "detector": finding.detector,
                "version": finding.detector_version,
                "config_version": finding.config_version,
            }
        )
        result = self._append_to_active(session, finding, evidence)
        if result is None:
            result = self._reopen_recent(session, finding, evidence)
        if result is None:
            result = self._open_new(session, finding, evidence)
        return result

    def record_many(self, findings: Sequence[Finding]) -> builtins.list[RecordResult]:
        """Record findings as `record` does, in one transaction: a storm of findings (a
        site-wide power cut) costs one commit instead of one each. Results come in the
        findings' order. Should another writer get in the way, the whole transaction is
        rolled back and each finding is recorded by `record`, with its retries."""
        results: builtins.list[RecordResult] = []
        with Session(self.engine) as session:
            for finding in findings:
                result = self._record_in(session, finding)
                if result is None:  # a conflict: _open_new rolled the transaction back
                    break
                results.append(result)
            else:
                try:
                    session.commit()
                    return results
                except IntegrityError:
                    session.rollback()
        return [self.record(finding) for finding in findings]

    def _occurrence(
        self,
        session: Session,
        ticket_id: int,
        finding: Finding,
        evidence: dict[str, Any],
        now: datetime,
    ) -> None:
        session.add(
            TicketOccurrence(
                ticket_id=ticket_id,
                onset_ms=finding.onset_ms,
                recorded_at=now,
                summary=finding.summary,
                evidence=evidence,
            )
        )

    def _append_to_active(
        self, session: Session, finding: Finding, evidence: dict[str, Any]
    ) -> RecordResult | None:
        now = self.clock.now()
        device = finding.device
        joins = incidents.joinable(device.kind, finding.fault_type)
        active = session.scalars(
            select(Ticket)
            .where(
                Ticket.site == device.site,
                Ticket.device_id == device.device_id,
                Ticket.fault_type.in_(joins),
                Ticket.state.in_(_ACTIVE),
            )
            .order_by(Ticket.fault_type != finding.fault_type, Ticket.id)
            .limit(1)
        ).first()
        if active is None:
            return None
        # Atomic increment, conditional on the ticket still being active: concurrent
        # writers never lose an occurrence, and a ticket closed meanwhile is not appended to.
        row = session.execute(
            update(Ticket)
            .where(Ticket.id == active.id, Ticket.state.in_(_ACTIVE))
            .values(occurrences=Ticket.occurrences + 1, updated_at=now)
            .returning(Ticket.state)
        ).first()
        if row is None:
            return None
        (state,) = row
        ticket_id = active.id
        self._occurrence(session, ticket_id, finding, evidence, now)
        session.refresh(active)
        if active.fault_type != finding.fault_type:
            self._join(session, active, finding, evidence, now)
        self._raise_severity(session, active, finding, now)
        if state in (State.RECTIFIED, State.VERIFIED):
            # The fault is back during re-check: the repair did not hold.
            self._move(
                session,
                ticket_id,
                state,
                State.REOPENED,
                SYSTEM_ACTOR,
                Role.SYSTEM,
                f"fault returned during verification: {finding.summary}",
                now,
            )
            return RecordResult(ticket_id, opened=False, reopened=True)
        return RecordResult(ticket_id, opened=False)

    def _join(
        self,
        session: Session,
        ticket: Ticket,
        finding: Finding,
        evidence: dict[str, Any],
        now: datetime,
    ) -> None:
        """Another detector saw the same incident: the ticket lists it with its evidence,
        and a generalist's ticket takes the specific fault type (the diagnosis refined)."""
        joined = dict(ticket.evidence.get("joined") or {})
        first = finding.detector not in joined
        joined[finding.detector] = {
            "fault_type": finding.fault_type,
            "onset_ms": finding.onset_ms,
            "summary": finding.summary,
            "evidence": evidence,
        }
        ticket.evidence = {**ticket.evidence, "joined": joined}
        note = None
        if incidents.is_generalist(ticket.kind, ticket.fault_type) and not (
            incidents.is_generalist(ticket.kind, finding.fault_type)
        ):
            note = f"diagnosis refined: {ticket.fault_type} -> {finding.fault_type}"
            ticket.fault_type = finding.fault_type
        elif first:
            note = f"same incident seen by {finding.detector}: {finding.summary}"
        if note is not None:
            self._system_note(session, ticket, now, note)

    def _raise_severity(
        self, session: Session, ticket: Ticket, finding: Finding, now: datetime
    ) -> None:
        """A finding graver than the ticket's (a trend still rising past its limit) raises
        the detector's severity, and the ticket's unless a person set it, with the graver
        severity's deadlines counted from when each clock started (never later than they were)."""
        graver = finding.severity.value
        if _RANK[graver] <= _RANK[ticket.detector_severity]:
            return
        overridden = ticket.severity != ticket.detector_severity
        ticket.detector_severity = graver
        if overridden or _RANK[graver] <= _RANK[ticket.severity]:
            return
        old = ticket.severity
        graver_due = _deadlines_from_starts(ticket, self.policy.deadlines(graver))
        ticket.severity = graver
        for stage, due in graver_due.items():
            current = aware(getattr(ticket, f"{stage}_due_at"))
            if due is not None and current is not None:
                setattr(ticket, f"{stage}_due_at", min(current, due))
        self._system_note(session, ticket, now, f"severity {old} -> {graver}: {finding.summary}")
        self._event(session, "transitioned", ticket, now, severity={"from": old, "to": graver})

    @staticmethod
    def _last_closed(session: Session, finding: Finding, since: datetime) -> Ticket | None:
        """The device's latest ticket for this fault that was closed after `since`, a false
        alarm aside: a dismissed ticket is never reopened and never makes a repeat."""
        return session.scalars(
            select(Ticket)
            .where(
                Ticket.site == finding.device.site,
                Ticket.device_id == finding.device.device_id,
                Ticket.fault_type.in_(incidents.joinable(finding.device.kind, finding.fault_type)),
                Ticket.state == State.CLOSED,
                Ticket.false_alarm.is_(False),
                Ticket.closed_at >= since,
            )
            .order_by(Ticket.closed_at.desc())
            .limit(1)
        ).first()

    def _reopen_recent(
        self, session: Session, finding: Finding, evidence: dict[str, Any]
    ) -> RecordResult | None:
        now = self.clock.now()
        recent = self._last_closed(session, finding, now - self.policy.reopen_grace)
        if recent is None:
            return None
        note = f"fault returned within the grace period after closing: {finding.summary}"
        if not self._move(
            session, recent.id, State.CLOSED, State.REOPENED, SYSTEM_ACTOR, Role.SYSTEM, note, now
        ):
            return None
        session.execute(
            update(Ticket).where(Ticket.id == recent.id).values(occurrences=Ticket.occurrences + 1)
        )
        self._occurrence(session, recent.id, finding, evidence, now)
        return RecordResult(recent.id, opened=False, reopened=True)

    def _open_new(
        self, session: Session, finding: Finding, evidence: dict[str, Any]
    ) -> RecordResult | None:
        now = self.clock.now()
        previous = self._last_closed(session, finding, now - self.policy.repeat_window)
        repeat_count = previous.repeat_count + 1 if previous else 1
        previous_ids = [*previous.previous_ticket_ids, previous.id] if previous else []
        severity = finding.severity.value
        deadlines = self.policy.deadlines(severity)
        ticket = Ticket(
            device_id=finding.device.device_id,
            site=finding.device.site,
            building=finding.device.building,
            kind=finding.device.kind,
            fault_type=finding.fault_type,
            severity=severity,
            detector_severity=severity,
            state=State.OPEN.value,
            summary=finding.summary,
            summary_key=finding.summary_key,
            summary_params=_finite(finding.summary_params) if finding.summary_key else None,
            detector=finding.detector,
            detector_version=finding.detector_version,
            evidence=evidence,
            onset_ms=finding.onset_ms,
            opened_at=now,
            updated_at=now,
            occurrences=1,
            dispatch_due_at=now + deadlines.dispatch,
            rectify_due_at=now + deadlines.rectify,
            repeat_count=repeat_count,
            previous_ticket_ids=previous_ids,
            card=card_for(repeat_count),
            dispatch_breached=False,
            rectify_breached=False,
            escalation_level=0,
            reopen_count=0,
        )
        session.add(ticket)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return None
        note = finding.summary
        if repeat_count > 1:
            note += f" (repeat #{repeat_count}, card {ticket.card})"
        self._history(session, ticket.id, now, SYSTEM_ACTOR, Role.SYSTEM, None, State.OPEN, note)
        self._event(session, "opened", ticket, now)
        return RecordResult(ticket.id, opened=True, repeat_count=repeat_count)

    # -- transitions --------------------------------------------------------

    def _move(
        self,
        session: Session,
        ticket_id: int,
        current: str,
        target: State,
        actor: str,
        role: Role,
        note: str | None,
        now: datetime,
        **values: Any,
    ) -> bool:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            return False
        deadlines = self.policy.deadlines(ticket.severity)
        stamps: dict[str, Any] = {"state": target.value, "updated_at": now, **values}
        if target is State.DISPATCHED:
            # Each dispatch (a re-dispatch too) starts the acknowledge clock afresh.
            stamps.update(
                dispatched_at=now,
                acknowledged_at=None,
                acknowledge_due_at=now + deadlines.acknowledge,
                acknowledge_breached=False,
            )
        elif target is State.ACKNOWLEDGED:
            stamps["acknowledged_at"] = now
        elif target is State.RECTIFIED:
            stamps.update(rectified_at=now, recheck_due_at=now + deadlines.recheck)
        elif target is State.VERIFIED:
            stamps["verified_at"] = now
        elif target is State.CLOSED:
            stamps["closed_at"] = now
            if is_dismissal(current, target):
                stamps.update(false_alarm=True, card="none")
        elif target is State.REOPENED:
            # A new round of the loop: every clock restarts from now, and no deadline of the
            # round before can breach (or escalate) again.
            stamps.update(
                reopen_count=Ticket.reopen_count + 1,
                reopened_at=now,
                dispatched_at=None,
                acknowledged_at=None,
                rectified_at=None,
                verified_at=None,
                closed_at=None,
                dispatch_due_at=now + deadlines.dispatch,
                acknowledge_due_at=None,
                rectify_due_at=now + deadlines.rectify,
                recheck_due_at=None,
                **{f"{stage}_breached": False for stage in STAGES},
                false_alarm=False,
                card=card_for(ticket.repeat_count),
            )
        changed = session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id, Ticket.state == current)
            .values(**stamps)
            .returning(Ticket.id)
        ).first()
        if changed is None:
            return False
        if target in (State.RECTIFIED, State.REOPENED):  # a new re-check starts afresh
            session.execute(delete(TicketRecheck).where(TicketRecheck.ticket_id == ticket_id))
        self._history(session, ticket_id, now, actor, role, current, target.value, note)
        session.refresh(ticket)
        event = "reopened" if target is State.REOPENED else "transitioned"
        self._event(
            session,
            event,
            ticket,
            now,
            transition={"from": current, "to": target.value, "actor": actor, "note": note},
        )
        return True

    def transition(
        self,
        ticket_id: int,
        target: str,
        actor: str,
        role: Role,
        note: str | None = None,
        assignee: str | None = None,
        verification: dict[str, Any] | None = None,
        contractor: str | None = None,
        team: str | None = None,
        confirm_despite_fault: bool = False,
    ) -> Ticket:
        """Move a ticket along the lifecycle, or raise IllegalTransition / NotPermitted.

        A person verifying or closing a ticket whose fault telemetry still shows
        (`quality.tickets.recheck`) gets FaultStillPresent unless `confirm_despite_fault`;
        confirmed, the history entry and the verification record say so.

        Rectifying a dispatched ticket that nobody acknowledged records the acknowledgement
        (接单) implicitly at that moment, by the same person, so clients that predate the
        acknowledge step keep working and the response time stays defined. The history
        notes it; the state moves (and events) are those of the old loop."""
        with Session(self.engine) as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                raise TicketNotFound(ticket_id)
            current, seen_assignee = ticket.state, ticket.assignee
            check_transition(current, target, role, note)
            status = self._fault_showing(session, ticket_id, target, role)
            if status is not None:
                if not confirm_despite_fault:
                    raise FaultStillPresent(ticket_id, status)
                note = confirmed_note(note, status)
            now = self.clock.now()
            values: dict[str, Any] = {}
            if assignee is not None:
                values["assignee"] = assignee
            if contractor is not None:
                values["contractor"] = contractor
            if team is not None:
                values["team"] = team
            if current == State.DISPATCHED and target == State.RECTIFIED:
                values["acknowledged_at"] = now
                self._history(
                    session,
                    ticket_id,
                    now,
                    actor,
                    role,
                    current,
                    current,
                    IMPLICIT_ACKNOWLEDGE_NOTE,
                )
            if verification is not None:
                values["verification"] = _json_safe(verification)
            elif target == State.VERIFIED:
                values["verification"] = {"method": "manual", "by": actor, "note": note}
                if status is not None:
                    values["verification"]["confirmed_despite_fault"] = status.public()
            if not self._move(
                session, ticket_id, current, State(target), actor, role, note, now, **values
            ):
                session.rollback()
                raise self._changed_meanwhile(ticket_id, current, seen_assignee)
            if target == State.VERIFIED and role is Role.SYSTEM and self.policy.auto_close_verified:
                self._move(
                    session,
                    ticket_id,
                    State.VERIFIED,
                    State.CLOSED,
                    SYSTEM_ACTOR,
                    Role.SYSTEM,
                    "closed automatically after verification by telemetry",
                    now,
                )
            session.commit()
        return self.require(ticket_id)

    def assign(
        self,
        ticket_id: int,
        assignee: str,
        actor: str,
        role: Role,
        note: str | None,
        contractor: str | None = None,
        team: str | None = None,
    ) -> Ticket:
        """Assigning dispatches an open or reopened ticket; on a dispatched one it reassigns
        (the acknowledge clock keeps running from the dispatch); on an acknowledged one it
        dispatches again, and the new party's acknowledge clock starts afresh. `contractor`
        and `team`, when given, name the responsible party that repeat cards go to.

        Either is conditional on what this call read: when two people assign at once, one
        wins and the other gets a TicketConflict saying who has the ticket now, instead of
        an "illegal transition" or a silent overwrite.
        """
        ticket = self.require(ticket_id)
        if ticket.state in (State.OPEN, State.REOPENED, State.ACKNOWLEDGED):
            try:
                return self.transition(
                    ticket_id,
                    State.DISPATCHED,
                    actor,
                    role,
                    note,
                    assignee=assignee,
                    contractor=contractor,
                    team=team,
                )
            except (IllegalTransition, TicketConflict):
                if self.require(ticket_id).state == ticket.state:
                    raise
                raise self._changed_meanwhile(ticket_id, ticket.state, ticket.assignee) from None
        if ticket.state != State.DISPATCHED:
            raise IllegalTransition(ticket.state, State.DISPATCHED)
        check_transition(State.OPEN, State.DISPATCHED, role, note)
        seen_assignee = (
            Ticket.assignee.is_(None)
            if ticket.assignee is None
            else Ticket.assignee == ticket.assignee
        )
        party = {
            name: value
            for name, value in (("contractor", contractor), ("team", team))
            if value is not None
        }
        with Session(self.engine) as session:
            now = self.clock.now()
            changed = session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.state == State.DISPATCHED, seen_assignee)
                .values(assignee=assignee, updated_at=now, **party)
                .returning(Ticket.id)
            ).first()
            if changed is None:
                session.rollback()
                raise self._changed_meanwhile(ticket_id, ticket.state, ticket.assignee)
            self._history(
                session,
                ticket_id,
                now,
                actor,
                role,
                ticket.state,
                ticket.state,
                f"reassigned to {assignee}" + (f": {note}" if note else ""),
            )
            session.commit()
        return self.require(ticket_id)

    def _changed_meanwhile(
        self, ticket_id: int, seen_state: str, seen_assignee: str | None
    ) -> TicketConflict:
        """A lost race, told as it happened: what this request read, what is there now."""
        now = self.require(ticket_id)
        history = self.history(ticket_id)
        by = f" (last change by {history[-1].actor})" if history else ""
        return TicketConflict(
            f"ticket {ticket_id} changed while this request ran: it was "
            f"{_standing(seen_state, seen_assignee)} and is now "
            f"{_standing(now.state, now.assignee)}{by}; reload it and try again if still needed",
            allowed_next(now.state),
        )

    def set_severity(
        self, ticket_id: int, severity: str, actor: str, role: Role, note: str | None
    ) -> Ticket:
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
        with Session(self.engine) as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                raise TicketNotFound(ticket_id)
            now = self.clock.now()
            old = ticket.severity
            ticket.severity = severity
            for stage, due in _deadlines_from_starts(
                ticket, self.policy.deadlines(severity)
            ).items():
                setattr(ticket, f"{stage}_due_at", due)
            ticket.updated_at = now
            self._history(
                session,
                ticket_id,
                now,
                actor,
                role,
                ticket.state,
                ticket.state,
                f"severity {old} -> {severity}" + (f": {note}" if note else ""),
            )
            self._event(
                session, "transitioned", ticket, now, severity={"from": old, "to": severity}
            )
            session.commit()
        return self.require(ticket_id)

    # -- re-check by telemetry ------------------------------------------------

    def record_recheck(
        self, ticket_id: int, fault_present: bool, observed_ms: int, detector: str
    ) -> None:
        """What telemetry shows of a rectified ticket's fault now (the verifier calls this
        when its detector's judgement changes)."""
        with Session(self.engine) as session:
            session.execute(delete(TicketRecheck).where(TicketRecheck.ticket_id == ticket_id))
            session.add(
                TicketRecheck(
                    ticket_id=ticket_id,
                    fault_present=fault_present,
                    observed_ms=observed_ms,
                    detector=detector[:64],
                    recorded_at=self.clock.now(),
                )
            )
            session.commit()

    def recheck(self, ticket_id: int) -> RecheckStatus | None:
        """The latest telemetry judgement of the ticket's fault since its rectification."""
        with Session(self.engine) as session:
            return self._recheck_in(session, ticket_id)

    @staticmethod
    def _recheck_in(session: Session, ticket_id: int) -> RecheckStatus | None:
        found = session.get(TicketRecheck, ticket_id)
        if found is None:
            return None
        return RecheckStatus(found.fault_present, found.observed_ms, found.detector)

    def _fault_showing(
        self, session: Session, ticket_id: int, target: str, role: Role
    ) -> RecheckStatus | None:
        """The telemetry status that makes a person's move need confirming, if any."""
        if role is Role.SYSTEM or target not in GUARDED_TARGETS:
            return None
        status = self._recheck_in(session, ticket_id)
        return status if status is not None and status.fault_present else None

    def comment(self, ticket_id: int, author: str, text: str) -> TicketComment:
        with Session(self.engine, expire_on_commit=False) as session:
            if session.get(Ticket, ticket_id) is None:
                raise TicketNotFound(ticket_id)
            comment = TicketComment(
                ticket_id=ticket_id, at=self.clock.now(), author=author, text=text
            )
            session.add(comment)
            session.commit()
            return comment

    def verify_by_telemetry(self, ticket_id: int, evidence: dict[str, Any]) -> Ticket | None:
        """The detector saw normal behaviour for the whole window: the repair holds."""
        try:
            return self.transition(
                ticket_id,
                State.VERIFIED,
                SYSTEM_ACTOR,
                Role.SYSTEM,
                "verified by telemetry",
                verification={"method": "telemetry", **evidence},
            )
        except (IllegalTransition, TicketConflict):
            return None

    # -- SLA ------------------------------------------------------------------

    def escalate_overdue(self) -> list[Breach]:
        """Flag, escalate and announce every newly breached deadline: dispatch (派单),
        acknowledge (接单), rectify (整改) and re-check (复核), each while its clock runs."""
        now = self.clock.now()
        breaches: list[Breach] = []
        with Session(self.engine) as session:
            for stage in STAGES:
                breached = getattr(Ticket, f"{stage}_breached")
                late = session.scalars(
                    select(Ticket).where(_late(stage, now), breached.is_(False))
                ).all()
                for ticket in late:
                    changed = session.execute(
                        update(Ticket)
                        .where(
                            Ticket.id == ticket.id,
                            Ticket.state == ticket.state,
                            breached.is_(False),
                        )
                        .values(
                            **{f"{stage}_breached": True},
                            escalation_level=Ticket.escalation_level + 1,
                            severity=ESCALATE_TO[ticket.severity],
                            updated_at=now,
                        )
                        .returning(Ticket.id)
                    ).first()
                    if changed is None:
                        continue
                    session.refresh(ticket)
                    note = f"{stage} deadline breached; escalated to {ticket.severity}"
                    self._system_note(session, ticket, now, note)
                    self._event(session, "escalated", ticket, now, escalation={"stage": stage})
                    breaches.append(Breach(ticket.id, stage, ticket.severity))
            session.commit()
        return breaches

    # -- reading --------------------------------------------------------------

    def require(self, ticket_id: int) -> Ticket:
        with Session(self.engine) as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                raise TicketNotFound(ticket_id)
            return ticket

    def _filtered(self, query: Any, flt: TicketFilter) -> Any:
        for column in (
            "state",
            "severity",
            "site",
            "building",
            "kind",
            "device_id",
            "fault_type",
            "contractor",
        ):
            value = getattr(flt, column)
            if value:
                query = query.where(getattr(Ticket, column) == value)
        if flt.states:
            query = query.where(Ticket.state.in_(flt.states))
        if flt.overdue is True:
            query = query.where(_overdue_clause(self.clock.now()))
        elif flt.overdue is False:
            query = query.where(~_overdue_clause(self.clock.now()))
        return query

    def search(
        self, flt: TicketFilter | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[Sequence[Ticket], int]:
        flt = flt or TicketFilter()
        with Session(self.engine) as session:
            total = session.scalar(self._filtered(select(func.count()).select_from(Ticket), flt))
            items = session.scalars(
                self._filtered(select(Ticket), flt)
                .order_by(Ticket.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            return items, int(total or 0)

    def page(self, query: TicketQuery) -> Page:
        """One page of the ticket list at any scale: filters, search, sort, keyset cursor
        (`quality.tickets.listing`)."""
        return fetch_page(self.engine, query, _overdue_clause(self.clock.now()))

    def list(
        self,
        state: str | None = None,
        device_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Ticket]:
        return self.search(TicketFilter(state=state, device_id=device_id), limit, offset)[0]

    def get(self, ticket_id: int) -> tuple[Ticket, builtins.list[TicketOccurrence]] | None:
        with Session(self.engine) as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                return None
            occurrences = session.scalars(
                select(TicketOccurrence)
                .where(TicketOccurrence.ticket_id == ticket_id)
                .order_by(TicketOccurrence.id)
            ).all()
            return ticket, list(occurrences)

    def history(self, ticket_id: int) -> Sequence[TicketHistory]:
        with Session(self.engine) as session:
            return session.scalars(
                select(TicketHistory)
                .where(TicketHistory.ticket_id == ticket_id)
                .order_by(TicketHistory.id)
            ).all()

    def comments(self, ticket_id: int) -> Sequence[TicketComment]:
        with Session(self.engine) as session:
            return session.scalars(
                select(TicketComment)
                .where(TicketComment.ticket_id == ticket_id)
                .order_by(TicketComment.id)
            ).all()

    def in_state(self, state: State) -> Sequence[Ticket]:
        with Session(self.engine) as session:
            return session.scalars(select(Ticket).where(Ticket.state == state.value)).all()

    def chronic(self, contractor: str | None = None) -> builtins.list[dict[str, Any]]:
        """Red-carded equipment: the same fault three times or more within the repeat window.

        `contractor`: only red cards of tickets dispatched to it, each listing only its
        tickets (what a contractor's caller may see)."""
        query = select(Ticket).where(Ticket.card == "red")
        own: set[int] | None = None
        with Session(self.engine) as session:
            if contractor is not None:
                query = query.where(Ticket.contractor == contractor)
                own = set(session.scalars(select(Ticket.id).where(Ticket.contractor == contractor)))
            rows = session.scalars(query.order_by(Ticket.opened_at.desc())).all()
        seen: dict[tuple[str, str, str], dict[str, Any]] = {}
        for ticket in rows:
            key = (ticket.site, ticket.device_id, ticket.fault_type)
            if key in seen:
                continue
            seen[key] = {
                "device_id": ticket.device_id,
                "site": ticket.site,
                "building": ticket.building,
                "kind": ticket.kind,
                "fault_type": ticket.fault_type,
                "repeat_count": ticket.repeat_count,
                "latest_ticket_id": ticket.id,
                "ticket_ids": [
                    i for i in (*ticket.previous_ticket_ids, ticket.id) if own is None or i in own
                ],
            }
        return list(seen.values())

    def cards(
        self, by: str, since: datetime | None = None, contractor: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Yellow and red cards (黄牌 / 红牌) per responsible party: `by` is `equipment`
        (site and device), `contractor` or `team` (as the dispatch named them; None when it
        named none). False alarms earn none. Most red cards first. `contractor`: only the
        cards of tickets dispatched to it."""
        if by not in CARD_GROUPS:
            raise ValueError(
                f"by must be one of {', '.join(CARD_GROUPS)} / "
                f"by 须为 {'、'.join(CARD_GROUPS)} 之一"
            )
        query = select(Ticket).where(
            Ticket.card.in_(["yellow", "red"]), Ticket.false_alarm.is_(False)
        )
        if since is not None:
            query = query.where(Ticket.opened_at >= since)
        if contractor is not None:
            query = query.where(Ticket.contractor == contractor)
        with Session(self.engine) as session:
            rows = session.scalars(query.order_by(Ticket.opened_at, Ticket.id)).all()
        groups: dict[tuple[str | None, ...], dict[str, Any]] = {}
        for ticket in rows:
            party: dict[str, Any] = (
                {"site": ticket.site, "device_id": ticket.device_id}
                if by == "equipment"
                else {by: getattr(ticket, by)}
            )
            group = groups.setdefault(
                tuple(party.values()),
                {"by": by, **party, "yellow": 0, "red": 0, "ticket_ids": []},
            )
            group[ticket.card] += 1
            group["ticket_ids"].append(ticket.id)
            group["latest_ticket_id"] = ticket.id
        return sorted(groups.values(), key=lambda g: (-g["red"], -g["yellow"], str(g)))

    def count(self) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)
