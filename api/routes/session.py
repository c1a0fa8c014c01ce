"""Signing in and out: `/api/session` and the sign-in page `/login`.

- `POST /api/session` {username, password}: a session; sets the cookies `facmon_session`
  (HttpOnly) and `facmon_csrf` (readable, echoed in `X-CSRF-Token` on writes), both
  SameSite=Strict and Path=/, and Secure over https. Failures answer alike whoever the
  name belongs to; too many answer 429 with Retry-After.
- `GET /api/session`: who is signed in (a token's caller too).
- `PATCH /api/session` {language}: the user's own language.
- `DELETE /api/session`: signs out and clears the cookies.
- `POST /api/session/password` {current_password, new_password}: the user's own change;
  every other session of the user ends.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.deps import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    StoresDep,
    current_principal,
    said,
    users_for,
)
from api.routing import AuthenticatedRoute
from api.stores import Stores
from quality.accounts import Principal
from quality.users.errors import AccountError, InvalidInput, Throttled, UnknownUser, UsernameTaken
from quality.users.sessions import csrf_matches
from quality.users.store import SignedIn

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["session"], route_class=AuthenticatedRoute)

CallerDep = Annotated[Principal, Depends(current_principal)]


class AccountRefusal(BaseModel):
    """An account error: `detail` in the request's language (both when it names none),
    `field` naming what to fix, and the text in each language."""

    detail: str | list[dict[str, Any]]
    field: str | None = None
    en: str | None = None
    zh: str | None = None


ACCOUNT_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": AccountRefusal, "description": "wrong name or password, or not signed in"},
    403: {"model": AccountRefusal, "description": "the CSRF header or the role is missing"},
    404: {"model": AccountRefusal, "description": "no such user"},
    409: {"model": AccountRefusal, "description": "the user name is taken"},
    422: {"model": AccountRefusal, "description": "a field is wrong; it is named"},
    429: {"model": AccountRefusal, "description": "too many failed sign-ins; see Retry-After"},
}


def account_refusal(request: Request, error: AccountError) -> Response:
    """The error as JSON, ASCII-escaped: it may echo input holding an unpaired surrogate."""
    both = error.both()
    body = {
        "detail": said(request, error.key, **error.params),
        "field": error.field,
        "en": both["en"],
        "zh": both["zh-CN"],
    }
    status = 422
    headers: dict[str, str] = {}
    if isinstance(error, UnknownUser):
        status = 404
    elif isinstance(error, UsernameTaken):
        status = 409
    elif isinstance(error, Throttled):
        status = 429
        headers["Retry-After"] = str(error.retry_after_s)
    elif not isinstance(error, InvalidInput):
        status = 401
    return Response(
        json.dumps(body, separators=(",", ":")).encode("ascii"),
        status,
        headers=headers,
        media_type="application/json",
    )


class SignIn(BaseModel):
    username: str = Field(max_length=256, description="the user name (any case)")
    password: str = Field(max_length=4096)


class SessionPublic(BaseModel):
    """Who is calling: a person signed in (`via` session) or a token's caller (`via` token,
    no language of their own)."""

    username: str
    display_name: str
    role: str
    contractor: str | None
    language: str | None
    must_change_password: bool = False
    expires_at: datetime | None = None
    via: Literal["session", "token"]


class LanguageChoice(BaseModel):
    language: str = Field(max_length=16, description="zh-CN or en")


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=4096)
    new_password: str = Field(max_length=4096)


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _secure(request: Request, stores: Stores) -> bool:
    forced = bool(getattr(stores.settings, "session_cookie_secure", False))
    return forced or request.url.scheme == "https"


def _set_cookies(response: Response, request: Request, stores: Stores, made: SignedIn) -> None:
    max_age = max(1, math.ceil((made.expires_at - stores.tickets.clock.now()).total_seconds()))
    secure = _secure(request, stores)
    for name, value, http_only in (
        (SESSION_COOKIE, made.secret, True),
        (CSRF_COOKIE, made.csrf, False),
    ):
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=secure,
            httponly=http_only,
            samesite="strict",
        )


def _clear_cookies(response: Response, request: Request, stores: Stores) -> None:
    secure = _secure(request, stores)
    for name, http_only in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=secure, httponly=http_only, samesite="strict")


def _public(who: Principal) -> SessionPublic:
    if who.user is None:
        return SessionPublic(
            username=who.name,
            display_name=who.name,
            role=who.role.value,
            contractor=who.contractor,
            language=None,
            via="token",
        )
    return SessionPublic(
        username=who.user.username,
        display_name=who.user.display_name,
        role=who.role.value,
        contractor=who.contractor,
        language=who.user.language,
        must_change_password=who.user.must_change_password,
        expires_at=who.user.expires_at,
        via="session",
    )


@router.post("/api/session", response_model=SessionPublic, responses=ACCOUNT_ERRORS)
def sign_in(body: SignIn, request: Request, stores: StoresDep) -> Response:
    users = users_for(stores)
    try:
        made = users.sign_in(body.username, body.password, _client(request))
    except AccountError as error:
        return account_refusal(request, error)
    who = users.principal(made.secret)
    assert who is not None
    response = Response(_public(who).model_dump_json().encode(), 200, media_type="application/json")
    _set_cookies(response, request, stores, made)
    return response


@router.get("/api/session", response_model=SessionPublic, responses=ACCOUNT_ERRORS)
def whoami(who: CallerDep) -> SessionPublic:
    return _public(who)


@router.patch("/api/session", response_model=SessionPublic, responses=ACCOUNT_ERRORS)
def choose_language(
    body: LanguageChoice, request: Request, stores: StoresDep, who: CallerDep
) -> Response:
    if who.user is None:
        raise HTTPException(400, said(request, "accounts.error.no_session"))
    users = users_for(stores)
    try:
        users.set_language(who.user, body.language)
    except AccountError as error:
        return account_refusal(request, error)
    secret = request.cookies.get(SESSION_COOKIE) or ""
    fresh = users.principal(secret) or who
    return Response(_public(fresh).model_dump_json().encode(), media_type="application/json")


@router.delete("/api/session", status_code=204, responses=ACCOUNT_ERRORS)
def sign_out(request: Request, stores: StoresDep) -> Response:
    """Ends the session of the cookie, if it is live (the write needs its CSRF header), and
    clears the cookies either way."""
    secret = request.cookies.get(SESSION_COOKIE)
    users = users_for(stores)
    who = users.principal(secret) if secret else None
    if who is not None and who.user is not None and secret is not None:
        if not csrf_matches(
            secret, request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER)
        ):
            raise HTTPException(403, said(request, "accounts.error.csrf"))
        users.sign_out(who.user.session_id)
    response = Response(status_code=204)
    _clear_cookies(response, request, stores)
    return response


@router.post("/api/session/password", status_code=204, responses=ACCOUNT_ERRORS)
def change_password(
    body: PasswordChange, request: Request, stores: StoresDep, who: CallerDep
) -> Response:
    if who.user is None:
        raise HTTPException(400, said(request, "accounts.error.no_session"))
    try:
        users_for(stores).change_password(
            who.user, body.current_password, body.new_password, _client(request)
        )
    except AccountError as error:
        return account_refusal(request, error)
    return Response(status_code=204)


@router.get("/login", include_in_schema=False)
def login_page() -> FileResponse:
    return FileResponse(STATIC / "login.html", media_type="text/html")
