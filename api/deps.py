"""Dependency aliases shared by the routers: the stores and the caller's identity, from a
bearer token or a signed-in session (with its CSRF check on writes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from api.stores import Stores
from quality.accounts import Principal
from quality.i18n import negotiate, text, texts
from quality.tickets.lifecycle import Role, role_allows
from quality.users.sessions import SessionPolicy, csrf_matches
from quality.users.store import UserStore

# A number the database cannot hold names no row, but reaching the driver it was a 500:
# SQLite raises OverflowError past 64 bits, PostgreSQL "integer out of range" past the 32
# bits of an INTEGER id column. Refused here instead, with a 422 that states the range.
MAX_ID = 2**31 - 1
MAX_OFFSET = 2**63 - 1
TicketId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="ticket id, as listed by GET /api/tickets")
]
TokenId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="token id, as listed by GET /api/tokens")
]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip, for paging")]

# Where AuthenticatedRoute leaves the caller for `current_principal` (request.state).
PRINCIPAL_STATE = "principal"
_bearer = HTTPBearer(auto_error=False, description="API token from `facmon token create`")

# The sign-in contract every page relies on (api/static/app.js sends the header).
SESSION_COOKIE = "facmon_session"  # HttpOnly: the session's secret
CSRF_COOKIE = "facmon_csrf"  # readable by the page, echoed in CSRF_HEADER on writes
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_stores(request: Request) -> Stores:
    stores: Stores = request.app.state.stores
    return stores


StoresDep = Annotated[Stores, Depends(get_stores)]


def users_for(stores: Stores) -> UserStore:
    """The users and their sessions, on the tickets' clock (tests move it)."""
    settings = stores.settings
    defaults = SessionPolicy()
    hours = getattr(settings, "session_hours", None)
    idle = getattr(settings, "session_idle_minutes", None)
    policy = SessionPolicy(
        lifetime=timedelta(hours=hours) if hours else defaults.lifetime,
        idle=timedelta(minutes=idle) if idle else defaults.idle,
    )
    return UserStore(stores.engine, stores.tickets.clock, policy)


def said(request: Request | None, key: str, **params: object) -> str:
    """A catalog text in the language the request asks for (Accept-Language), or in both
    when it names none (a script's caller reads either)."""
    header = request.headers.get("Accept-Language") if request is not None else None
    if header:
        return text(key, negotiate(header), **params)
    both = texts(key, **params)
    return f"{both['en']} ({both['zh-CN']})"


def _unauthenticated(request: Request, key: str) -> HTTPException:
    return HTTPException(401, said(request, key), headers={"WWW-Authenticate": "Bearer"})


def authenticate(stores: Stores, request: Request) -> Principal:
    """The caller: a bearer token (`Authorization: Bearer fm_...`), else the session cookie.
    A write with the cookie must echo the session's CSRF token in `X-CSRF-Token`; tokens
    need none (a browser never adds an Authorization header on its own)."""
    authorization = request.headers.get("Authorization")
    if authorization:
        scheme, token = get_authorization_scheme_param(authorization)
        if scheme.lower() != "bearer" or not token:
            raise _unauthenticated(request, "accounts.error.not_signed_in")
        principal = stores.tokens.authenticate(token)
        if principal is None:
            raise _unauthenticated(request, "accounts.error.token_refused")
        return principal
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        raise _unauthenticated(request, "accounts.error.not_signed_in")
    principal = users_for(stores).principal(secret)
    if principal is None:
        raise _unauthenticated(request, "accounts.error.not_signed_in")
    if request.method.upper() not in SAFE_METHODS and not csrf_matches(
        secret, request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER)
    ):
        raise HTTPException(403, said(request, "accounts.error.csrf"))
    return principal


def current_principal(
    request: Request,
    stores: StoresDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, as `api.routing.AuthenticatedRoute` found them before the body was read;
    `credentials` is declared so that the spec lists the bearer scheme."""
    known = getattr(request.state, PRINCIPAL_STATE, None)
    if isinstance(known, Principal):
        return known
    return authenticate(stores, request)


def require(role: Role) -> Callable[[Request, Principal], Principal]:
    def check(
        request: Request, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        if principal.user is not None and principal.user.must_change_password:
            raise HTTPException(403, said(request, "accounts.error.must_change_password"))
        if not role_allows(principal.role, role):
            raise HTTPException(
                403,
                said(
                    request,
                    "accounts.error.role_needed",
                    role=principal.role.value,
                    needs=role.value,
                ),
            )
        return principal

    return check


ViewerDep = Annotated[Principal, Depends(require(Role.VIEWER))]
EngineerDep = Annotated[Principal, Depends(require(Role.ENGINEER))]
QualityDep = Annotated[Principal, Depends(require(Role.QUALITY))]
AdminDep = Annotated[Principal, Depends(require(Role.ADMIN))]


def contractor_scope(
    request: Request,
    stores: StoresDep,
    who: Annotated[Principal, Depends(current_principal)],
) -> None:
    """A contractor's token or user reaches only the tickets dispatched to that
    contractor: any other ticket answers 404, as one that does not exist (nothing to
    enumerate)."""
    if who.contractor is None:
        return
    raw = request.path_params.get("ticket_id")
    if raw is None:
        return
    try:
        ticket_id = int(raw)
    except ValueError:
        return  # the route's own validation answers 422
    found = stores.tickets.get(ticket_id) if 1 <= ticket_id <= MAX_ID else None
    if found is None or found[0].contractor != who.contractor:
        raise HTTPException(404, f"no ticket {raw}")


def scoped_contractor(who: Principal, asked: str | None) -> str | None:
    """The contractor a list is limited to: the caller's own (a token's or a user's), when
    it has one (asking for another contractor's tickets is a 403), else what the caller
    asked for."""
    if who.contractor is None:
        return asked
    if asked is not None and asked != who.contractor:
        if who.user is not None:
            raise HTTPException(
                403, said(None, "accounts.error.scope_other_contractor", contractor=who.contractor)
            )
        raise HTTPException(
            403,
            f"this token sees the tickets of contractor {who.contractor!r} only "
            f"(此令牌只能查看维保单位 {who.contractor!r} 的工单)",
        )
    return who.contractor
