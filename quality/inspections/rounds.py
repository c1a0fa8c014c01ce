"""Inspection rounds (巡检): start from a route, answer its items one by one (each with
the time it was checked and optional photos), finish.

A failed item (a `fail`, or a number outside its range) opens a ticket through the same
path as a manual finding, with the question, the answer and its photos as evidence. Each
answer first claims its (stop, item) slot, so a repeated or concurrent answer is refused
before any ticket is opened; if the ticket cannot be recorded, the answer and its photos
are removed again and nothing partial stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract.clock import Clock, SystemClock, aware
from contract.finding import Severity
from quality.inspections import messages
from quality.inspections.checklists import ChecklistItem, Stop, stop_label
from quality.inspections.completion import (
    RoundTally,
    answered_stops,
    inspection_round_completion,
    round_completion,
    skipped_stops,
)
from quality.inspections.errors import Conflict, Invalid, NotFound
from quality.inspections.manual import ManualReport, Where, open_manual
from quality.inspections.models import InspectionAnswer, InspectionRound, InspectionRoute
from quality.photos import PhotoStore, PreparedPhoto
from quality.tickets.store import TicketStore

# A phone's clock may run a little ahead of the service's.
CLOCK_SKEW: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Answer:
    stop: int
    item: int
    value: str
    note: str | None
    answered_at: datetime | None
    user: str


def _answer_dict(row: InspectionAnswer) -> dict[str, Any]:
    return {
        "id": row.id,
        "stop": row.stop_index,
        "item": row.item_index,
        "value": row.value,
        "passed": row.passed,
        "note": row.note,
        "answered_at": aware(row.answered_at),
        "recorded_at": aware(row.recorded_at),
        "answered_by": row.answered_by,
        "photos": row.photo_ids,
        "ticket_id": row.ticket_id,
    }


class RoundStore:
    def __init__(
        self,
        engine: Engine,
        tickets: TicketStore,
        photos: PhotoStore,
        clock: Clock | None = None,
    ) -> None:
        self.engine = engine
        self.tickets = tickets
        self.photos = photos
        self.clock: Clock = clock or tickets.clock or SystemClock()

    def _now(self) -> datetime:
        return self.clock.now()

    # -- reading --------------------------------------------------------------

    def _public(self, session: Session, row: InspectionRound) -> dict[str, Any]:
        answers = session.scalars(
            select(InspectionAnswer)
            .where(InspectionAnswer.round_id == row.id)
            .order_by(InspectionAnswer.stop_index, InspectionAnswer.item_index)
        ).all()
        indexes = [answer.stop_index for answer in answers]
        answered = (
            row.stops_answered
            if row.stops_answered is not None
            else answered_stops(row.stops_total, indexes)
        )
        return {
            "id": row.id,
            "route_id": row.route_id,
            "route_name": row.route_name,
            "site": row.site,
            "inspector": row.inspector,
            "started_at": aware(row.started_at),
            "finished_at": aware(row.finished_at),
            "stops": row.stops,
            "stops_total": row.stops_total,
            "stops_answered": answered,
            "stops_skipped": row.stops_skipped,
            "completion": round_completion(row.stops_total, answered),
            "answers": [_answer_dict(answer) for answer in answers],
        }

    def get(self, round_id: int) -> dict[str, Any]:
        with Session(self.engine) as session:
            row = session.get(InspectionRound, round_id)
            if row is None:
                raise NotFound(messages.round_not_found(round_id))
            return self._public(session, row)

    def find(
        self, site: str | None = None, route_id: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        query = select(InspectionRound).order_by(InspectionRound.id.desc()).limit(limit)
        if site is not None:
            query = query.where(InspectionRound.site == site)
        if route_id is not None:
            query = query.where(InspectionRound.route_id == route_id)
        with Session(self.engine) as session:
            return [self._public(session, row) for row in session.scalars(query).all()]

    # -- the round ------------------------------------------------------------

    def start(self, route_id: int, user: str) -> dict[str, Any]:
        with Session(self.engine) as session, session.begin():
            route = session.get(InspectionRoute, route_id)
            if route is None:
                raise NotFound(messages.route_not_found(route_id), "route_id")
            row = InspectionRound(
                route_id=route.id,
                route_name=route.name,
                site=route.site,
                stops=list(route.stops),
                inspector=user[:128],
                started_at=self._now(),
                stops_total=len(route.stops),
            )
            session.add(row)
            session.flush()
            return self._public(session, row)

    def _checked(
        self, round_id: int, answer: Answer
    ) -> tuple[InspectionRound, Stop, ChecklistItem]:
        with Session(self.engine) as session:
            row = session.get(InspectionRound, round_id)
            if row is None:
                raise NotFound(messages.round_not_found(round_id))
            if row.finished_at is not None:
                raise Conflict(messages.round_finished(round_id))
            if not 0 <= answer.stop < row.stops_total:
                raise Invalid(messages.no_such_stop(answer.stop, row.stops_total), "stop")
            stop = Stop.model_validate(row.stops[answer.stop])
            if not 0 <= answer.item < len(stop.items):
                raise Invalid(messages.no_such_item(answer.item, len(stop.items)), "item")
            taken = session.scalar(
                select(InspectionAnswer.id).where(
                    InspectionAnswer.round_id == round_id,
                    InspectionAnswer.stop_index == answer.stop,
                    InspectionAnswer.item_index == answer.item,
                )
            )
            if taken is not None:
                raise Conflict(messages.already_answered(answer.stop, answer.item))
            session.expunge(row)
            return row, stop, stop.items[answer.item]

    def answer(
        self, round_id: int, answer: Answer, photos: Sequence[PreparedPhoto]
    ) -> dict[str, Any]:
        """Record one answer; a failed item opens (or adds to) a ticket."""
        row, stop, item = self._checked(round_id, answer)
        try:
            passed = item.judge(answer.value)
        except ValueError:
            raise Invalid(messages.bad_answer(item.kind), "value") from None
        now = self._now()
        # Kept in UTC: SQLite drops the offset of a phone's local time.
        answered_at = answer.answered_at.astimezone(UTC) if answer.answered_at else now
        if answered_at > now + CLOCK_SKEW:
            raise Invalid(messages.answered_in_future(answered_at.isoformat()), "answered_at")
        saved = self.photos.save(photos, answer.user)
        photo_ids = [photo.id for photo in saved]
        answer_id = self._claim(round_id, answer, item, passed, answered_at, now, photo_ids)
        if passed:
            return self._answer(answer_id)
        try:
            result = open_manual(
                self.tickets,
                self._report(row, stop, item, answer, answered_at, photo_ids, answer_id),
            )
        except BaseException:
            with Session(self.engine) as session, session.begin():
                session.execute(delete(InspectionAnswer).where(InspectionAnswer.id == answer_id))
            self.photos.discard(photo_ids)
            raise
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(InspectionAnswer)
                .where(InspectionAnswer.id == answer_id)
                .values(ticket_id=result.ticket_id)
            )
        return self._answer(answer_id)

    def _claim(
        self,
        round_id: int,
        answer: Answer,
        item: ChecklistItem,
        passed: bool,
        answered_at: datetime,
        now: datetime,
        photo_ids: list[str],
    ) -> int:
        row = InspectionAnswer(
            round_id=round_id,
            stop_index=answer.stop,
            item_index=answer.item,
            value=answer.value.strip(),
            number=float(answer.value) if item.kind == "number" else None,
            passed=passed,
            note=answer.note,
            answered_at=answered_at,
            recorded_at=now,
            answered_by=answer.user[:128],
            photo_ids=photo_ids,
        )
        try:
            with Session(self.engine) as session, session.begin():
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:
            self.photos.discard(photo_ids)
            raise Conflict(messages.already_answered(answer.stop, answer.item)) from None
        except BaseException:
            self.photos.discard(photo_ids)
            raise

    def _answer(self, answer_id: int) -> dict[str, Any]:
        with Session(self.engine) as session:
            row = session.get(InspectionAnswer, answer_id)
            assert row is not None
            return _answer_dict(row)

    @staticmethod
    def _report(
        row: InspectionRound,
        stop: Stop,
        item: ChecklistItem,
        answer: Answer,
        answered_at: datetime,
        photo_ids: list[str],
        answer_id: int,
    ) -> ManualReport:
        unit = f" {item.unit}" if item.unit else ""
        summary = messages.failed_item_summary(item.question, f"{answer.value.strip()}{unit}")
        allowed = (
            {"minimum": item.minimum, "maximum": item.maximum} if item.kind == "number" else None
        )
        return ManualReport(
            where=Where(
                site=row.site,
                building=stop.building or "",
                kind=stop.kind or "",
                device_id=stop.device_id,
                floor=stop.floor,
                place=stop.place,
            ),
            category=item.category,
            severity=Severity(item.severity),
            description=summary.both() + (f" - {answer.note}" if answer.note else ""),
            reported_by=answer.user,
            observed_at=answered_at,
            photo_ids=tuple(photo_ids),
            extra={
                "inspection": {
                    "round_id": row.id,
                    "route_id": row.route_id,
                    "route_name": row.route_name,
                    "stop": answer.stop,
                    "stop_label": stop_label(row.site, stop),
                    "item": answer.item,
                    "question": item.question,
                    "kind": item.kind,
                    "answer": answer.value.strip(),
                    "unit": item.unit,
                    "allowed": allowed,
                    "note": answer.note,
                    "answer_id": answer_id,
                    "answered_at": answered_at.isoformat(),
                }
            },
        )

    def finish(self, round_id: int, user: str) -> dict[str, Any]:
        """Close the round: stops without an answer are counted as skipped."""
        with Session(self.engine) as session, session.begin():
            row = session.get(InspectionRound, round_id)
            if row is None:
                raise NotFound(messages.round_not_found(round_id))
            indexes = session.scalars(
                select(InspectionAnswer.stop_index).where(InspectionAnswer.round_id == round_id)
            ).all()
            done = session.execute(
                update(InspectionRound)
                .where(InspectionRound.id == round_id, InspectionRound.finished_at.is_(None))
                .values(
                    finished_at=self._now(),
                    stops_answered=answered_stops(row.stops_total, indexes),
                    stops_skipped=skipped_stops(row.stops_total, indexes),
                )
            )
            if done.rowcount == 0:  # type: ignore[attr-defined]
                raise Conflict(messages.round_finished(round_id))
            session.refresh(row)
            return self._public(session, row)

    # -- the KPI ---------------------------------------------------------------

    def completion(
        self, since: datetime, until: datetime, site: str | None = None
    ) -> tuple[float | None, int, int, int]:
        """巡检完成率 of the rounds finished in [since, until): the rate, the rounds,
        the stops planned and the stops done."""
        query = select(InspectionRound.stops_total, InspectionRound.stops_answered).where(
            InspectionRound.finished_at >= since, InspectionRound.finished_at < until
        )
        if site is not None:
            query = query.where(InspectionRound.site == site)
        with Session(self.engine) as session:
            tallies = [
                RoundTally(total, answered or 0) for total, answered in session.execute(query)
            ]
        return (
            inspection_round_completion(tallies),
            len(tallies),
            sum(t.stops for t in tallies),
            sum(t.answered for t in tallies),
        )
