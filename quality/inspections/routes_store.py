"""Inspection routes (巡检路线): created and edited by the quality team, read by everyone.

A device stop names its building and kind; when the request leaves them out they are
taken from the equipment ledger or the device registry (`DeviceLookup`), so a failed
item later opens its ticket on the right device.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, exists, select
from sqlalchemy.orm import Session

from contract.clock import Clock, SystemClock, aware
from quality.inspections import messages
from quality.inspections.checklists import RouteCreate, Stop
from quality.inspections.errors import Conflict, Invalid, NotFound
from quality.inspections.manual import DeviceLookup
from quality.inspections.models import InspectionRound, InspectionRoute


def _route_dict(row: InspectionRoute) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "site": row.site,
        "stops": row.stops,
        "created_by": row.created_by,
        "created_at": aware(row.created_at),
        "updated_at": aware(row.updated_at),
    }


class RouteStore:
    def __init__(self, engine: Engine, lookup: DeviceLookup, clock: Clock | None = None) -> None:
        self.engine = engine
        self.lookup = lookup
        self.clock = clock or SystemClock()

    def _resolved(self, route: RouteCreate) -> list[dict[str, Any]]:
        stops: list[dict[str, Any]] = []
        for index, stop in enumerate(route.stops):
            stops.append(self._resolve_stop(route.site, index, stop).model_dump(mode="json"))
        return stops

    def _resolve_stop(self, site: str, index: int, stop: Stop) -> Stop:
        if stop.device_id is None or (stop.building and stop.kind):
            return stop
        found = self.lookup(site, stop.device_id)
        if found is None:
            raise Invalid(messages.unknown_device(site, stop.device_id), f"stops.{index}.device_id")
        building, kind = found
        return stop.model_copy(
            update={"building": stop.building or building, "kind": stop.kind or kind}
        )

    def create(self, route: RouteCreate, user: str) -> dict[str, Any]:
        now = self.clock.now()
        row = InspectionRoute(
            name=route.name,
            site=route.site,
            stops=self._resolved(route),
            created_by=user[:128],
            created_at=now,
            updated_at=now,
        )
        with Session(self.engine) as session, session.begin():
            session.add(row)
            session.flush()
            return _route_dict(row)

    def get(self, route_id: int) -> dict[str, Any]:
        with Session(self.engine) as session:
            row = session.get(InspectionRoute, route_id)
            if row is None:
                raise NotFound(messages.route_not_found(route_id))
            return _route_dict(row)

    def find(self, site: str | None = None) -> list[dict[str, Any]]:
        query = select(InspectionRoute).order_by(InspectionRoute.id)
        if site is not None:
            query = query.where(InspectionRoute.site == site)
        with Session(self.engine) as session:
            return [_route_dict(row) for row in session.scalars(query)]

    def replace(self, route_id: int, route: RouteCreate) -> dict[str, Any]:
        """A new version of the route; rounds already started keep the stops they had."""
        stops = self._resolved(route)
        with Session(self.engine) as session, session.begin():
            row = session.get(InspectionRoute, route_id, with_for_update=True)
            if row is None:
                raise NotFound(messages.route_not_found(route_id))
            row.name, row.site, row.stops = route.name, route.site, stops
            row.updated_at = self.clock.now()
            session.flush()
            return _route_dict(row)

    def delete(self, route_id: int) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(InspectionRoute, route_id, with_for_update=True)
            if row is None:
                raise NotFound(messages.route_not_found(route_id))
            used = session.scalar(select(exists().where(InspectionRound.route_id == route_id)))
            if used:
                raise Conflict(messages.route_in_use(route_id))
            session.delete(row)
