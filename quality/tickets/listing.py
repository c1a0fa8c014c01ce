"""The ticket list at scale: filters, free-text search, sorts and keyset (cursor) paging.

A page is found by its position in the sort order, `(sort key, id) < (last key, last id)`,
not by an offset: the database walks an index from that point, so page 20,000 costs what
page 1 costs, and a ticket opened while someone pages neither repeats nor shifts a row.
The cursor carries the sort, the order, the filters' fingerprint and the last row's key;
it is opaque to clients (base64url JSON) and refused when reused for another query.

`total` is exact up to `COUNT_BOUND` matches; past it the count stops and says it is a
lower bound: counting every match of a broad filter over a million tickets would cost more
than the page itself, on every request. On PostgreSQL the count also stops after
`COUNT_BUDGET_MS` (a common word of a free-text search matches too many tickets to count
quickly); the total is then what the first page has shown for sure, a lower bound too.
The total is counted once, for the first page, and the cursor carries it on: a walk's
pages cost one index walk each, and show the total the walk began with.

>>> SORT_KEYS
('opened_at', 'severity', 'due', 'updated')
>>> cursor = Cursor("due", "asc", "f", "2026-01-01T00:00:00+00:00", 7, 90, False)
>>> decode_cursor(encode_cursor(cursor)) == cursor
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Engine,
    String,
    and_,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy import tuple_ as row
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from contract.topics import Kind
from quality.ledger.models import Equipment
from quality.tickets.lifecycle import State
from quality.tickets.models import SEARCH_SQL, Ticket, TicketComment
from quality.tickets.policy import SEVERITIES

SORT_KEYS: Final = ("opened_at", "severity", "due", "updated")
ORDERS: Final = ("asc", "desc")
KINDS: Final = tuple(k.value for k in Kind)
STATES: Final = tuple(s.value for s in State)
DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 500
COUNT_BOUND: Final = 10_000
COUNT_BUDGET_MS: Final = 50
MAX_TEXT: Final = 200
COMMENT_MATCHES: Final = 1000

# Free text is matched in one expression; PostgreSQL serves it with a trigram GIN index on
# exactly this expression (`ix_ticket_text_trgm`), SQLite scans.
_SEARCHED = literal_column(SEARCH_SQL, String)

# Severity names sort alphabetically from gravest to mildest, so a plain index on the
# column orders by gravity: "critical" < "major" < "minor".
assert list(SEVERITIES) == sorted(SEVERITIES), "severity sort relies on alphabetical gravity"

# The column each sort reads, and whether the sort's "desc" is the column's SQL descending.
# Severity "desc" means gravest first, which is alphabetical ascending.
_SORT_COLUMNS: Final[dict[str, tuple[Any, bool]]] = {
    "opened_at": (Ticket.opened_at, True),
    "severity": (Ticket.severity, False),
    "due": (Ticket.rectify_due_at, True),
    "updated": (Ticket.updated_at, True),
}


class Words(NamedTuple):
    en: str
    zh: str


@dataclass(frozen=True, slots=True)
class ListingError(ValueError):
    """A bad listing parameter: which one, the values it may take, and why, in both languages."""

    param: str
    message: Words
    allowed: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.param}: {self.message.en} / {self.message.zh}"

    def public(self) -> dict[str, Any]:
        return {
            "loc": ["query", self.param],
            "field": self.param,
            "allowed": list(self.allowed),
            "msg": f"{self.message.en} / {self.message.zh}",
            "en": self.message.en,
            "zh": self.message.zh,
            "type": "invalid_listing_parameter",
        }


@dataclass(slots=True)
class TicketQuery:
    """What a list request asks for; every field is optional (all tickets, newest first)."""

    site: str | None = None
    building: str | None = None
    floor: str | None = None
    kind: str | None = None
    severity: list[str] = field(default_factory=list)
    state: list[str] = field(default_factory=list)
    assignee: str | None = None
    contractor: str | None = None
    fault_type: str | None = None
    device_id: str | None = None
    overdue: bool | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    q: str | None = None
    sort: str = "opened_at"
    order: str = "desc"
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None

    def fingerprint(self) -> str:
        """The filters and sort, hashed: a cursor is valid only for the query that made it."""
        shape = {
            name: getattr(self, name)
            for name in (
                "site",
                "building",
                "floor",
                "kind",
                "assignee",
                "contractor",
                "fault_type",
                "device_id",
                "overdue",
                "q",
                "sort",
                "order",
            )
        }
        shape["severity"] = sorted(self.severity)
        shape["state"] = sorted(self.state)
        shape["opened_from"] = _iso(self.opened_from)
        shape["opened_to"] = _iso(self.opened_to)
        digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()
        return digest[:16]


@dataclass(frozen=True, slots=True)
class Cursor:
    sort: str
    order: str
    fingerprint: str
    key: str
    id: int
    total: int
    more: bool


@dataclass(frozen=True, slots=True)
class Page:
    items: Sequence[Ticket]
    next_cursor: str | None
    total: int
    total_is_lower_bound: bool


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def encode_cursor(cursor: Cursor) -> str:
    raw = json.dumps(
        [
            cursor.sort,
            cursor.order,
            cursor.fingerprint,
            cursor.key,
            cursor.id,
            cursor.total,
            cursor.more,
        ],
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


_BAD_CURSOR = Words(
    "not a cursor this list returned; pass next_cursor from the previous page unchanged, "
    "or leave it out for the first page",
    "不是本列表返回的游标；请原样传入上一页的 next_cursor，首页不传",
)


def decode_cursor(text: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        sort, order, fingerprint, key, ticket_id, total, more = json.loads(raw)
        if not (
            sort in SORT_KEYS
            and order in ORDERS
            and isinstance(fingerprint, str)
            and isinstance(key, str)
            and type(ticket_id) is int
            and type(total) is int
            and type(more) is bool
        ):
            raise ValueError(text)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as error:
        raise ListingError("cursor", _BAD_CURSOR) from error
    return Cursor(sort, order, fingerprint, key, ticket_id, total, more)


# -- parsing the query string ---------------------------------------------------------------


def _values(raw: Iterable[str] | None) -> list[str]:
    """Repeated parameters and comma-separated lists alike: `state=open&state=closed` or
    `state=open,closed`."""
    return [part.strip() for value in raw or () for part in value.split(",") if part.strip()]


def _one_of(param: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ListingError(
            param,
            Words(
                f"{value!r} is not one of {', '.join(allowed)}",
                f"{value!r} 不在可选值 {', '.join(allowed)} 之中",
            ),
            tuple(allowed),
        )
    return value


def _text(param: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > MAX_TEXT or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ListingError(
            param,
            Words(
                f"must be 1 to {MAX_TEXT} characters without control characters",
                f"须为 1 至 {MAX_TEXT} 个字符，不含控制字符",
            ),
        )
    return value


def _moment(param: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ListingError(
            param,
            Words(
                "must be an RFC 3339 time with its offset, e.g. 2026-12-07T08:00:00Z",
                "须为带时区偏移的 RFC 3339 时间，例如 2026-12-07T08:00:00Z",
            ),
        )
    return moment.astimezone(UTC)


def _boolean(param: str, value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ListingError(
        param, Words("must be true or false", "须为 true 或 false"), ("true", "false")
    )


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_LIMIT:
        raise ListingError(
            "limit",
            Words(
                f"must be a whole number from 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})",
                f"须为 1 至 {MAX_LIMIT} 的整数（默认 {DEFAULT_LIMIT}）",
            ),
            (f"1..{MAX_LIMIT}",),
        )
    return number


def parse_query(
    *,
    site: str | None = None,
    building: str | None = None,
    floor: str | None = None,
    kind: str | None = None,
    severity: Iterable[str] | None = None,
    state: Iterable[str] | None = None,
    assignee: str | None = None,
    contractor: str | None = None,
    fault_type: str | None = None,
    device_id: str | None = None,
    overdue: str | None = None,
    opened_from: str | None = None,
    opened_to: str | None = None,
    q: str | None = None,
    sort: str | None = None,
    order: str | None = None,
    limit: str | None = None,
    cursor: str | None = None,
) -> TicketQuery:
    """A TicketQuery from query-string values, or a ListingError naming the first bad one."""
    query = TicketQuery(
        site=_text("site", site),
        building=_text("building", building),
        floor=_text("floor", floor),
        kind=_one_of("kind", kind, KINDS) if kind is not None else None,
        severity=[_one_of("severity", s, SEVERITIES) for s in _values(severity)],
        state=[_one_of("state", s, STATES) for s in _values(state)],
        assignee=_text("assignee", assignee),
        contractor=_text("contractor", contractor),
        fault_type=_text("fault_type", fault_type),
        device_id=_text("device_id", device_id),
        overdue=_boolean("overdue", overdue),
        opened_from=_moment("opened_from", opened_from),
        opened_to=_moment("opened_to", opened_to),
        q=_text("q", q),
        sort=_one_of("sort", sort, SORT_KEYS) if sort is not None else "opened_at",
        order=_one_of("order", order, ORDERS) if order is not None else "desc",
        limit=_limit(limit),
        cursor=cursor,
    )
    if query.opened_from and query.opened_to and query.opened_from > query.opened_to:
        raise ListingError(
            "opened_to",
            Words("must not be before opened_from", "不得早于 opened_from"),
        )
    if cursor is not None:
        _position(query)  # refused now, as a parameter error, rather than mid-query
    return query


# -- the SQL ----------------------------------------------------------------------------------


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def conditions(
    query: TicketQuery, overdue: ColumnElement[bool], commented: Sequence[int] = ()
) -> list[ColumnElement[bool]]:
    """The WHERE of `query`; `overdue` is the store's clause for tickets past a running
    deadline (the SLA's own definition, kept in one place); `commented`, the tickets whose
    comments hold the free text (`commented_ids`)."""
    where: list[ColumnElement[bool]] = []
    for name in ("site", "building", "kind", "assignee", "contractor", "fault_type", "device_id"):
        value = getattr(query, name)
        if value is not None:
            where.append(getattr(Ticket, name) == value)
    if query.severity:
        where.append(Ticket.severity.in_(query.severity))
    if query.state:
        where.append(Ticket.state.in_(query.state))
    if query.overdue is True:
        where.append(overdue)
    elif query.overdue is False:
        where.append(~overdue)
    if query.opened_from is not None:
        where.append(Ticket.opened_at >= query.opened_from)
    if query.opened_to is not None:
        where.append(Ticket.opened_at < query.opened_to)
    if query.floor is not None:
        where.append(_on_floor(query))
    if query.q:
        searched = _SEARCHED.ilike(f"%{_escaped(query.q)}%", escape="\\")
        where.append(or_(searched, Ticket.id.in_(commented)) if commented else searched)
    return where


def commented_ids(session: Session, q: str | None) -> list[int]:
    """Tickets with a comment holding `q`, at most COMMENT_MATCHES of them, newest first.

    Fetched first and passed on as a list, so that PostgreSQL ORs the id list with the
    trigram index of the ticket text instead of scanning every ticket against a subquery."""
    if not q:
        return []
    pattern = f"%{_escaped(q)}%"
    return list(
        session.scalars(
            select(TicketComment.ticket_id)
            .where(TicketComment.text.ilike(pattern, escape="\\"))
            .distinct()
            .order_by(TicketComment.ticket_id.desc())
            .limit(COMMENT_MATCHES)
        )
    )


def _on_floor(query: TicketQuery) -> ColumnElement[bool]:
    """Tickets on a floor: a device the equipment ledger places there, or a place a person
    reported there (its device id is `place:<building>/<floor>/<place>`,
    `quality.inspections.manual`). Tickets carry no floor of their own; the ledger is where
    a device's floor is kept, and its (site, building, floor) index serves the subquery."""
    assert query.floor is not None
    ledger = select(Equipment.site, Equipment.device_id).where(Equipment.floor == query.floor)
    if query.site is not None:
        ledger = ledger.where(Equipment.site == query.site)
    building = _escaped(query.building) if query.building is not None else "%"
    place = f"place:{building}/{_escaped(query.floor)}/%"
    return or_(
        row(Ticket.site, Ticket.device_id).in_(ledger),
        and_(Ticket.kind == "place", Ticket.device_id.like(place, escape="\\")),
    )


def _key_text(query: TicketQuery, value: Any) -> str:
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).isoformat()
    return str(value)


def _position(query: TicketQuery) -> tuple[Any, Cursor] | None:
    """The previous page's last sort key and its cursor, checked against the query."""
    if query.cursor is None:
        return None
    cursor = decode_cursor(query.cursor)
    if (cursor.sort, cursor.order, cursor.fingerprint) != (
        query.sort,
        query.order,
        query.fingerprint(),
    ):
        raise ListingError(
            "cursor",
            Words(
                "the cursor belongs to a list with other filters or another sort; "
                "start again without a cursor",
                "该游标属于筛选条件或排序不同的列表；请去掉游标重新开始",
            ),
        )
    if query.sort == "severity":
        return _one_of("cursor", cursor.key, SEVERITIES), cursor
    try:
        return datetime.fromisoformat(cursor.key), cursor
    except ValueError as error:
        raise ListingError("cursor", _BAD_CURSOR) from error


def _bounded_count(session: Session, where: list[ColumnElement[bool]]) -> int | None:
    """Matches of `where`, counted up to COUNT_BOUND + 1; None when PostgreSQL could not
    count them within COUNT_BUDGET_MS. The last statement of the session's transaction."""
    matched = select(Ticket.id).where(*where).limit(COUNT_BOUND + 1).subquery()
    count = select(func.count()).select_from(matched)
    if session.get_bind().dialect.name != "postgresql":
        return int(session.scalar(count) or 0)
    try:
        with session.begin_nested():
            session.execute(text(f"SET LOCAL statement_timeout = {int(COUNT_BUDGET_MS)}"))
            return int(session.scalar(count) or 0)
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) == "57014":  # query_canceled
            return None
        raise


def fetch_page(engine: Engine, query: TicketQuery, overdue: ColumnElement[bool]) -> Page:
    """One page of `query`, the cursor to the next (None on the last) and the bounded total."""
    column, desc_is_sql_desc = _SORT_COLUMNS[query.sort]
    descending = (query.order == "desc") == desc_is_sql_desc
    position = _position(query)
    ordering = (column.desc(), Ticket.id.desc()) if descending else (column.asc(), Ticket.id.asc())
    with Session(engine) as session:
        where = conditions(query, overdue, commented_ids(session, query.q))
        paged = list(where)
        if position is not None:
            key, cursor = position
            after = row(column, Ticket.id) < row(key, cursor.id)
            before = row(column, Ticket.id) > row(key, cursor.id)
            paged.append(after if descending else before)
        rows = session.scalars(
            select(Ticket).where(*paged).order_by(*ordering).limit(query.limit + 1)
        ).all()
        if position is not None:
            total, more = position[1].total, position[1].more
        elif len(rows) <= query.limit:
            total, more = len(rows), False  # the first page is the whole list
        else:
            counted = _bounded_count(session, where)
            if counted is None:  # out of time: known are this page and one more ticket
                total, more = len(rows), True
            else:
                total, more = min(counted, COUNT_BOUND), counted > COUNT_BOUND
    items = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        last = items[-1]
        next_cursor = encode_cursor(
            Cursor(
                query.sort,
                query.order,
                query.fingerprint(),
                _key_text(query, getattr(last, column.key)),
                last.id,
                total,
                more,
            )
        )
    return Page(items, next_cursor, total, more)
