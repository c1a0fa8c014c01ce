"""The ticket list at scale (quality.tickets.listing) on SQLite and PostgreSQL: every filter,
search, each sort both ways, keyset paging that reaches every ticket once, bounded totals,
and parameters refused with their name and allowed values."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy import insert as insert_rows
from sqlalchemy.orm import Session

from contract.clock import ManualClock
from quality.tickets import listing
from quality.tickets.listing import ListingError, TicketQuery, parse_query
from quality.tickets.models import Ticket, aware
from quality.tickets.store import TicketStore

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=100)
SITES = ("north", "south", "east")
KINDS = ("elevator", "lighting", "pump", "access")
SEVERITIES = ("critical", "major", "minor")
STATES = ("open", "dispatched", "acknowledged", "rectified", "verified", "closed", "reopened")
ASSIGNEES = (None, "li", "wang", None, "zhao")
CONTRACTORS = (None, "Otis", "HVAC Co", None)
FAULTS = ("door_slow", "lamp_out", "vibration_rising", "offline", "held_open", "leak")
RECTIFY = {"critical": timedelta(hours=4), "major": timedelta(hours=24), "minor": timedelta(72)}


def ticket_fields(i: int) -> dict[str, Any]:
    """Ticket i of a set where every attribute varies on its own cycle; pairs share an opening
    time (ties are broken by id) and some open after NOW (not yet overdue)."""
    kind = KINDS[i % 4]
    severity = SEVERITIES[(i + 1) % 3]
    opened = T0 + timedelta(hours=4 * (i // 2))
    state = STATES[i % 7]
    summary = f"{FAULTS[i % 6]} on {kind}-{i} by the 泵房 stairs"
    if i == 7:
        summary = "Outlet pressure 100% drop"
    if i == 8:
        summary = "pressure 100 percent, last_open"
    return {
        "device_id": f"{kind}-{i}",
        "site": SITES[i % 3],
        "building": f"b{i % 4}",
        "kind": kind,
        "fault_type": FAULTS[i % 6],
        "severity": severity,
        "detector_severity": severity,
        "state": state,
        "summary": summary,
        "detector": "test",
        "detector_version": "1",
        "evidence": {},
        "onset_ms": 0,
        "opened_at": opened,
        "updated_at": T0 + timedelta(hours=(i * 7) % 30),
        "assignee": ASSIGNEES[i % 5],
        "contractor": CONTRACTORS[i % 4],
        "dispatch_due_at": opened + timedelta(hours=1),
        "acknowledge_due_at": opened + timedelta(hours=2) if state == "dispatched" else None,
        "rectify_due_at": opened + RECTIFY[severity],
        "recheck_due_at": opened + timedelta(hours=48) if state == "rectified" else None,
    }


def insert(engine: Engine, rows: list[dict[str, Any]]) -> list[int]:
    with Session(engine) as session:
        tickets = [Ticket(**row) for row in rows]
        session.add_all(tickets)
        session.commit()
        return [t.id for t in tickets]


def overdue(t: dict[str, Any]) -> bool:
    """The SLA's definition, written out: a clock still running past its deadline."""

    def late(due: datetime | None) -> bool:
        return due is not None and due < NOW

    state = t["state"]
    return (
        (state in ("open", "reopened") and late(t["dispatch_due_at"]))
        or (state == "dispatched" and late(t["acknowledge_due_at"]))
        or (
            state in ("open", "dispatched", "acknowledged", "reopened")
            and late(t["rectify_due_at"])
        )
        or (state == "rectified" and late(t["recheck_due_at"]))
    )


Rows = dict[int, dict[str, Any]]


@pytest.fixture
def world(engine_factory: Callable[[], Engine]) -> Iterator[tuple[TicketStore, Rows]]:
    engine = engine_factory()
    rows = [ticket_fields(i) for i in range(60)]
    ids = insert(engine, rows)
    yield TicketStore(engine, clock=ManualClock(NOW)), dict(zip(ids, rows, strict=True))


def ids_of(store: TicketStore, query: TicketQuery) -> list[int]:
    """Every id the query lists, page by page."""
    found: list[int] = []
    while True:
        page = store.page(query)
        found += [t.id for t in page.items]
        if page.next_cursor is None:
            return found
        query.cursor = page.next_cursor


def matching(rows: Rows, keep: Callable[[dict[str, Any]], bool]) -> set[int]:
    return {ticket_id for ticket_id, row in rows.items() if keep(row)}


FILTERS: list[tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
    ({"site": "south"}, lambda r: r["site"] == "south"),
    ({"building": "b2"}, lambda r: r["building"] == "b2"),
    ({"kind": "pump"}, lambda r: r["kind"] == "pump"),
    ({"severity": ["critical"]}, lambda r: r["severity"] == "critical"),
    ({"severity": ["critical", "minor"]}, lambda r: r["severity"] in ("critical", "minor")),
    ({"severity": ["critical,major"]}, lambda r: r["severity"] in ("critical", "major")),
    ({"state": ["open", "reopened"]}, lambda r: r["state"] in ("open", "reopened")),
    ({"state": ["closed"]}, lambda r: r["state"] == "closed"),
    ({"assignee": "li"}, lambda r: r["assignee"] == "li"),
    ({"contractor": "Otis"}, lambda r: r["contractor"] == "Otis"),
    ({"fault_type": "leak"}, lambda r: r["fault_type"] == "leak"),
    ({"device_id": "pump-6"}, lambda r: r["device_id"] == "pump-6"),
    ({"overdue": "true"}, overdue),
    ({"overdue": "false"}, lambda r: not overdue(r)),
    (
        {"opened_from": "2027-03-02T00:00:00Z"},
        lambda r: r["opened_at"] >= datetime(2027, 3, 2, tzinfo=UTC),
    ),
    (
        {"opened_to": "2027-03-02T08:00:00+08:00"},
        lambda r: r["opened_at"] < datetime(2027, 3, 2, tzinfo=UTC),
    ),
    (
        {"site": "north", "state": ["closed,verified"], "severity": ["major"]},
        lambda r: (
            r["site"] == "north"
            and r["state"] in ("closed", "verified")
            and r["severity"] == "major"
        ),
    ),
    (
        {"kind": "access", "overdue": "true", "opened_from": "2027-03-01T12:00:00Z"},
        lambda r: (
            r["kind"] == "access"
            and overdue(r)
            and r["opened_at"] >= datetime(2027, 3, 1, 12, tzinfo=UTC)
        ),
    ),
    # Free text: any case, in the summary, device id, site or building; % and _ are literal.
    ({"q": "VIBRATION"}, lambda r: "vibration" in r["summary"]),
    ({"q": "泵房"}, lambda r: "泵房" in r["summary"]),
    ({"q": "pump-1"}, lambda r: "pump-1" in r["device_id"] or "pump-1" in r["summary"]),
    ({"q": "sOuTh"}, lambda r: r["site"] == "south"),
    ({"q": "100%"}, lambda r: "100%" in r["summary"]),
    ({"q": "t_o"}, lambda r: "t_o" in r["summary"]),
    ({"q": "leak", "site": "east"}, lambda r: "leak" in r["summary"] and r["site"] == "east"),
]


@pytest.mark.parametrize(("params", "keep"), FILTERS, ids=[str(p) for p, _k in FILTERS])
def test_each_filter_lists_exactly_the_matching_tickets(
    world: tuple[TicketStore, Rows],
    params: dict[str, Any],
    keep: Callable[[dict[str, Any]], bool],
) -> None:
    store, rows = world
    expected = matching(rows, keep)
    assert expected, "the filter must match something to prove anything"
    assert len(expected) < len(rows) or params == {"overdue": "false"}
    query = parse_query(**params, limit="7")
    found = ids_of(store, query)
    assert sorted(found) == sorted(expected)
    assert store.page(parse_query(**params)).total == len(expected)


def sort_value(row: dict[str, Any], sort: str) -> Any:
    if sort == "severity":
        return SEVERITIES.index(row["severity"])  # 0 = gravest
    column = {"opened_at": "opened_at", "due": "rectify_due_at", "updated": "updated_at"}[sort]
    return row[column]


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort", listing.SORT_KEYS)
def test_each_sort_orders_both_ways_ties_broken_by_id(
    world: tuple[TicketStore, Rows], sort: str, order: str
) -> None:
    store, rows = world
    found = ids_of(store, parse_query(sort=sort, order=order, limit="9"))
    assert len(found) == len(rows) == len(set(found))
    keys = [sort_value(rows[i], sort) for i in found]
    if sort == "severity":
        # desc: gravest first, the longest-waiting first among equals; asc the reverse
        expected = sorted(found, key=lambda i: (sort_value(rows[i], sort), i))
        assert found == (expected if order == "desc" else expected[::-1])
    else:
        expected = sorted(found, key=lambda i: (sort_value(rows[i], sort), i))
        assert found == (expected if order == "asc" else expected[::-1])
    assert len(set(keys)) < len(keys), "ties must exist to show they are broken by id"


def test_the_default_is_newest_first_fifty_a_page(world: tuple[TicketStore, Rows]) -> None:
    store, rows = world
    page = store.page(TicketQuery())
    assert len(page.items) == 50 and page.next_cursor is not None
    assert page.total == 60 and not page.total_is_lower_bound
    newest = sorted(rows, key=lambda i: (rows[i]["opened_at"], i), reverse=True)
    assert [t.id for t in page.items] == newest[:50]
    assert aware(page.items[0].opened_at) == max(r["opened_at"] for r in rows.values())


def test_paging_walks_every_ticket_once_while_tickets_are_added(
    world: tuple[TicketStore, Rows],
) -> None:
    """Tickets opened between pages (newer, older and at the very time of the cursor's row)
    neither repeat a ticket nor make one be skipped."""
    store, rows = world
    added = 0
    for sort, order in (("opened_at", "desc"), ("opened_at", "asc"), ("due", "asc")):
        query = parse_query(sort=sort, order=order, limit="6")
        seen: list[int] = []
        first_total = None
        while True:
            page = store.page(query)
            first_total = first_total or page.total
            assert page.total == first_total, "the cursor carries the walk's first total"
            seen += [t.id for t in page.items]
            if page.next_cursor is None:
                break
            last = page.items[-1]
            extra = [ticket_fields(1000 + added + k) for k in range(3)]
            extra[0]["opened_at"] = T0 + timedelta(days=30)  # newer than all
            extra[1]["opened_at"] = T0 - timedelta(days=30)  # older than all
            extra[2]["opened_at"] = aware(last.opened_at)  # the cursor row's own time
            for row in extra:
                row["device_id"] = f"added-{added}"
                added += 1
            insert(store.engine, extra)
            query.cursor = page.next_cursor
        assert len(seen) == len(set(seen)), f"{sort} {order}: a ticket came twice"
        assert set(rows) <= set(seen), f"{sort} {order}: a ticket was skipped"


def test_the_total_is_exact_up_to_the_bound_then_a_lower_bound(
    world: tuple[TicketStore, Rows], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _rows = world
    monkeypatch.setattr(listing, "COUNT_BOUND", 20)
    broad = store.page(TicketQuery(limit=5))
    assert (broad.total, broad.total_is_lower_bound) == (20, True)
    narrow = store.page(parse_query(site="north", severity=["critical"]))
    assert narrow.total < 20 and not narrow.total_is_lower_bound
    assert narrow.total == len(narrow.items)


def test_a_page_after_the_last_is_empty_and_says_so(world: tuple[TicketStore, Rows]) -> None:
    store, _rows = world
    query = parse_query(limit="500")
    page = store.page(query)
    assert len(page.items) == 60 and page.next_cursor is None


BAD: list[tuple[dict[str, Any], str, tuple[str, ...]]] = [
    ({"kind": "boiler"}, "kind", KINDS),
    ({"severity": ["critical", "urgent"]}, "severity", SEVERITIES),
    ({"state": ["open,shut"]}, "state", STATES),
    ({"sort": "id"}, "sort", listing.SORT_KEYS),
    ({"order": "up"}, "order", ("asc", "desc")),
    ({"overdue": "maybe"}, "overdue", ("true", "false")),
    ({"limit": "0"}, "limit", ("1..500",)),
    ({"limit": "501"}, "limit", ("1..500",)),
    ({"limit": "ten"}, "limit", ("1..500",)),
    ({"opened_from": "2027-03-01T08:00:00"}, "opened_from", ()),
    ({"opened_to": "yesterday"}, "opened_to", ()),
    (
        {"opened_from": "2027-03-02T00:00:00Z", "opened_to": "2027-03-01T00:00:00Z"},
        "opened_to",
        (),
    ),
    ({"q": ""}, "q", ()),
    ({"q": "x" * 201}, "q", ()),
    ({"site": "a\x00b"}, "site", ()),
    ({"cursor": "not-a-cursor"}, "cursor", ()),
    ({"cursor": "WzEsMiwzXQ"}, "cursor", ()),  # base64 of [1,2,3]
]


@pytest.mark.parametrize(("params", "param", "allowed"), BAD, ids=[b[1] for b in BAD])
def test_a_bad_parameter_is_named_with_its_allowed_values_in_both_languages(
    params: dict[str, Any], param: str, allowed: tuple[str, ...]
) -> None:
    with pytest.raises(ListingError) as raised:
        parse_query(**params)
    error = raised.value
    assert error.param == param
    assert tuple(error.allowed) == tuple(allowed)
    public = error.public()
    assert public["loc"] == ["query", param] and public["en"] and public["zh"]
    assert public["en"] != public["zh"]


def test_a_cursor_is_refused_for_another_query(world: tuple[TicketStore, Rows]) -> None:
    store, _rows = world
    cursor = store.page(parse_query(site="north", limit="2")).next_cursor
    assert cursor is not None
    for other in ({"site": "south"}, {"site": "north", "sort": "due"}, {"order": "asc"}):
        with pytest.raises(ListingError) as raised:
            parse_query(**other, cursor=cursor)
        assert raised.value.param == "cursor"
    assert store.page(parse_query(site="north", limit="3", cursor=cursor)).items


def test_a_count_out_of_time_is_a_lower_bound_on_postgresql(
    engine_factory: Callable[[], Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL stops counting after COUNT_BUDGET_MS: the total is then the first page and
    one more, flagged as a lower bound. SQLite has no statement timeout and counts exactly."""
    engine = engine_factory()
    with Session(engine) as session:
        session.execute(
            insert_rows(Ticket),
            [{**ticket_fields(i), "state": "closed", "device_id": f"d-{i}"} for i in range(20_000)],
        )
        session.commit()
    store = TicketStore(engine, clock=ManualClock(NOW))
    monkeypatch.setattr(listing, "COUNT_BOUND", 1_000_000)
    monkeypatch.setattr(listing, "COUNT_BUDGET_MS", 1)
    page = store.page(parse_query(q="stairs", limit="10"))
    if engine.dialect.name == "postgresql":
        assert (page.total, page.total_is_lower_bound) == (11, True)
    else:
        assert (page.total, page.total_is_lower_bound) == (19_998, False)
    assert len(page.items) == 10 and page.next_cursor is not None
