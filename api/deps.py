"""Dependency aliases shared by the routers: the stores and the caller's identity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from api.stores import Stores
from quality.accounts import Principal
from quality.tickets.lifecycle import Role, role_allows

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


def get_stores(request: Request) -> Stores:
    stores: Stores = request.app.state.stores
    return stores


StoresDep = Annotated[Stores, Depends(get_stores)]


def authenticate(stores: Stores, authorization: str | None) -> Principal:
    """The caller named by an `Authorization: Bearer <token>` header, or a 401 saying what
    to send instead."""
    scheme, token = get_authorization_scheme_param(authorization)
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            401,
            "missing bearer token: send 'Authorization: Bearer <token>' "
            "(create one with `facmon token create --role viewer`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = stores.tokens.authenticate(token)
    if principal is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
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
    return authenticate(stores, request.headers.get("Authorization"))


def require(role: Role) -> Callable[[Principal], Principal]:
    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not role_allows(principal.role, role):
            raise HTTPException(
                403, f"role {principal.role.value} may not do this; needs {role.value}"
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
    """A contractor's token reaches only the tickets dispatched to that contractor: any
    other ticket answers 404, as one that does not exist (nothing to enumerate)."""
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
    """The contractor a list is limited to: the token's own, when it has one (asking for
    another contractor's tickets is a 403), else what the caller asked for."""
    if who.contractor is None:
        return asked
    if asked is not None and asked != who.contractor:
        raise HTTPException(
            403,
            f"this token sees the tickets of contractor {who.contractor!r} only "
            f"(此令牌只能查看维保单位 {who.contractor!r} 的工单)",
        )
    return who.contractor
